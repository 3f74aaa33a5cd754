"""The bundled detector network (PyTorch; training only -- inference runs the ONNX export).

A compact CenterNet-style anchor-free oriented detector at a fixed ground sample
distance (:data:`MODEL_GSD_M`). Output stride 2 (1 m cells at 0.5 m) keeps the
centres of cars parked 2.5 m apart on separate cells. Heads per output cell:

* ``heat``  (3): class centre heatmaps (sigmoid), one per class in :data:`CLASSES`
* ``size``  (2): log length, log width in model pixels
* ``head``  (2): (sin h, cos h) of the 360-degree heading; the vector's norm is the
  heading confidence (it shrinks when front and rear look alike)
* ``off``   (2): sub-cell centre offset (x, y) in output cells
* ``sub``   (n): subclass logits over :data:`SUBCLASSES`
* ``axis``  (2, optional, last): (sin 2h, cos 2h) of the body axis. Unlike the heading
  vector it does not shrink when front and rear look alike, so a car's axis stays
  sharp (a 9 x 4 px car at 0.5 m needs it within ~10 degrees for IoU 0.5); the
  heading vector then only picks the front.

Imports torch: only :mod:`.train` and :mod:`.export` use this module.
"""

from __future__ import annotations

import torch
from torch import nn

from .classmap import CLASSES  # noqa: F401
from .modelspec import MODEL_GSD_M, STRIDE, SUBCLASS_PARENT, SUBCLASSES

__all__ = ["MODEL_GSD_M", "STRIDE", "SUBCLASSES", "SUBCLASS_PARENT", "FrontCheckEnsemble", "FrontCheckNet",
           "OrientedCenterNet", "ScreenNet", "load_compatible"]



def _cbr(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class OrientedCenterNet(nn.Module):
    """Strided encoder to 1/16 for context (a 18 m trailer is 36 px), light FPN-style decoder to 1/2.

    Input: float32 (N, 3, H, W) RGB in 0..255, H and W multiples of 16.
    Output: one (N, 9 + n_sub [+ 2], H/2, W/2) tensor: heat logits, size, head, off, sub [, axis].
    """

    def __init__(self, width: int = 16, n_sub: int = len(SUBCLASSES), axis: bool = True):
        super().__init__()
        c1, c2, c3, c4 = width, width * 2, width * 3, width * 4
        self.n_sub = n_sub
        self.axis = axis
        self.stem = _cbr(3, c1, 2)  # 1/2
        self.e2 = nn.Sequential(_cbr(c1, c2, 2), _cbr(c2, c2))  # 1/4
        self.e3 = nn.Sequential(_cbr(c2, c3, 2), _cbr(c3, c3))  # 1/8
        self.e4 = nn.Sequential(_cbr(c3, c4, 2), _cbr(c4, c4), _cbr(c4, c4, dilation=2))  # 1/16
        self.l3 = nn.Conv2d(c3, c4, 1)
        self.d3 = _cbr(c4, c3)
        self.l2 = nn.Conv2d(c2, c3, 1)
        self.d2 = _cbr(c3, c2)
        self.l1 = nn.Conv2d(c1, c2, 1)
        self.d1 = _cbr(c2, c2)
        self.out = nn.Conv2d(c2, 9 + n_sub + (2 if axis else 0), 1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        with torch.no_grad():
            self.out.bias.zero_()
            self.out.bias[:3].fill_(-4.0)  # rare positives: start the heatmap near 0.02
            self.out.bias[5].fill_(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - 110.0) / 60.0
        f1 = self.stem(x)
        f2 = self.e2(f1)
        f3 = self.e3(f2)
        f4 = self.e4(f3)
        y = self.d3(self.up(f4) + self.l3(f3))
        y = self.d2(self.up(y) + self.l2(f2))
        y = self.d1(self.up(y) + self.l1(f1))
        return self.out(y)


def load_compatible(net: OrientedCenterNet, state: dict) -> list[str]:
    """Load ``state`` into ``net``, copying the leading channels of a narrower output layer.

    Lets a model without the axis head (or with fewer outputs) initialise one
    with it; the new channels keep their fresh initialisation. Returns the
    names of the partially copied tensors.
    """
    own = net.state_dict()
    partial = []
    for k, v in state.items():
        if k in own and own[k].shape != v.shape and own[k].shape[1:] == v.shape[1:] and v.shape[0] < own[k].shape[0]:
            own[k][: v.shape[0]] = v
            partial.append(k)
        elif k in own:
            own[k] = v
    net.load_state_dict(own)
    return partial


class ExportWrapper(nn.Module):
    """What the ONNX file computes: sigmoid heat with non-peaks zeroed, and the raw regression maps.

    Peak finding (3x3 max-pool) runs inside the graph so decoding in numpy is a
    threshold and a gather.
    """

    def __init__(self, net: OrientedCenterNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.net(x)
        heat = torch.sigmoid(y[:, :3])
        pooled = nn.functional.max_pool2d(heat, 3, 1, 1)
        peaks = heat * (pooled == heat).to(heat.dtype)
        return peaks, y[:, 3:]


class ScreenNet(nn.Module):
    """The cascade's first pass: "could the detector fire in this 4 m cell?" (logits per cell).

    Reads the image at half the model's resolution (1 m cells at 0.5 m; a car
    is still 4-5 x 2 px), which :func:`.screen.screen_input` makes with an area
    average on the 8-bit pixels, and answers at stride 4 of that: one logit per
    8 x 8 model pixels. About 650 multiply-adds per model pixel, a tenth of
    :class:`OrientedCenterNet`, on a quarter of the pixels, so a corridor can
    be screened cheaply and the detector run only where this fires (see
    :mod:`.screen`). Input: float32 (N, 3, H/2, W/2) RGB 0..255.
    """

    def __init__(self, width: int = 16):
        super().__init__()
        c1, c2, c3 = width, width * 3 // 2, width * 2
        self.body = nn.Sequential(_cbr(3, c1, 2), _cbr(c1, c2), _cbr(c2, c3, 2), _cbr(c3, c3),
                                  _cbr(c3, c3, dilation=2), nn.Conv2d(c3, 1, 1))
        with torch.no_grad():
            self.body[-1].bias.fill_(-3.0)  # most cells are empty

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body((x - 110.0) / 60.0)


class FrontCheckNet(nn.Module):
    """The front check (:mod:`.front`): is the detector's front of each vehicle the right end?

    Input: ``patches`` (N, 4, across, along) float32, each vehicle sampled in its
    own frame from rear to front and contrast-normalised
    (:func:`.front.normalise_patches`), and ``heading_conf`` (N,), the
    detector's own confidence. Output: (N, classes) logits, one column per
    class (each detection reads its own class's column).

    A small conv trunk ``f`` reads the patch; the logit is
    ``f(x) - f(x turned round) + a * heading_conf + b``, with the patch first
    made symmetric left/right. So the image part changes sign exactly when the
    vehicle is turned round: the check cannot prefer an end for any reason but
    what the two ends look like, and the sun or the driver's side cannot
    decide it. Unlike the one-layer network it replaces it sees where in the
    body a windscreen or a cab lies, not just front-minus-rear differences.
    """

    def __init__(self, n_classes: int, across: int, along: int, width: int = 16):
        super().__init__()
        c = width
        self.trunk = nn.Sequential(
            nn.Conv2d(4, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2),
            nn.Linear(2 * c * (across // 4) * (along // 4), n_classes))
        self.conf_weight = nn.Parameter(torch.zeros(n_classes))
        self.bias = nn.Parameter(torch.zeros(n_classes))

    def forward(self, patches: torch.Tensor, heading_conf: torch.Tensor) -> torch.Tensor:
        x = 0.5 * (patches + patches.flip(2))
        return self.trunk(x) - self.trunk(x.flip(3)) + heading_conf[:, None] * self.conf_weight + self.bias


class FrontCheckEnsemble(nn.Module):
    """The mean logit of several :class:`FrontCheckNet` fits (different seeds); same inputs and output.

    Each member is odd in the turned-round patch, so their mean is too. Fits
    of one recipe differ most where the synthetic training data say least,
    on real cars; their mean is steadier there.
    """

    def __init__(self, members: list[FrontCheckNet]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, patches: torch.Tensor, heading_conf: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(patches, heading_conf) for m in self.members]).mean(0)
