"""An independent re-statement of the official DaSiamRPN tracker, for parity tests only.

Written from the published algorithm (``../shared/reference-trackers.md`` §1.4-1.6) in the
official code's procedural style, with Python-2 semantics made explicit: integer division for the
anchor-grid origin and d_search, rounding half away from zero, a full padded canvas for crops. It
shares no code with ``dasiamrt.runtime``: crops, anchors, window and post-processing are redone
here with plain loops and torch, so a bug in the runtime cannot hide in both.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def py2_round(x: float) -> float:
    return float(math.floor(x + 0.5)) if x >= 0 else -float(math.floor(-x + 0.5))


def anchors_loop(score_size: int, ratios, scales, stride: int = 8) -> np.ndarray:
    rows = []
    base = []
    for ratio in ratios:
        ws = int(math.sqrt(stride * stride / ratio))
        hs = int(ws * ratio)
        for scale in scales:
            base.append((ws * scale, hs * scale))
    ori = -(score_size // 2) * stride  # Python 2: int / int
    for w, h in base:
        for y in range(score_size):
            for x in range(score_size):
                rows.append((ori + stride * x, ori + stride * y, w, h))
    return np.array(rows, dtype=np.float32)


def crop_canvas(im: np.ndarray, pos, model_sz: int, original_sz: float, avg_chans) -> torch.Tensor:
    """Pad the whole frame onto a canvas first (the official memory-hungry way), then slice."""
    sz = original_sz
    c = (original_sz + 1) / 2.0
    xmin = py2_round(pos[0] - c)
    ymin = py2_round(pos[1] - c)
    xmax, ymax = xmin + sz - 1, ymin + sz - 1
    left, top = int(max(0.0, -xmin)), int(max(0.0, -ymin))
    right, bottom = int(max(0.0, xmax - im.shape[1] + 1)), int(max(0.0, ymax - im.shape[0] + 1))
    h, w = im.shape[:2]
    canvas = np.zeros((h + top + bottom, w + left + right, 3), np.uint8)
    canvas[top:top + h, left:left + w] = im
    fill = np.asarray(avg_chans)  # float means: numpy truncates on assignment into uint8
    canvas[:top, left:left + w] = fill
    canvas[top + h:, left:left + w] = fill
    canvas[:, :left] = fill
    canvas[:, left + w:] = fill
    patch = canvas[int(ymin + top):int(ymax + top + 1), int(xmin + left):int(xmax + left + 1)]
    if model_sz != original_sz:
        patch = cv2.resize(patch, (model_sz, model_sz))
    return torch.from_numpy(np.transpose(patch, (2, 0, 1)).copy()).float()


class OfficialTracker:
    """``SiamRPN_init`` / ``SiamRPN_track`` semantics on a torch SiamRPN (weights as loaded)."""

    def __init__(self, net, lr, window_influence, penalty_k, instance_size=271, adaptive=False):
        self.net = net.eval()
        self.lr, self.wi, self.k = lr, window_influence, penalty_k
        self.instance = instance_size
        self.adaptive = adaptive

    def init(self, im, pos, sz):
        self.im_h, self.im_w = im.shape[:2]
        if self.adaptive:
            small = (sz[0] * sz[1]) / float(self.im_h * self.im_w) < 0.004
            self.instance = 287 if small else 271
        self.score_size = (self.instance - 127) // 8 + 1
        self.anchor = anchors_loop(self.score_size, [0.33, 0.5, 1, 2, 3], [8])
        self.avg = np.mean(im, axis=(0, 1))
        wc = sz[0] + 0.5 * sum(sz)
        hc = sz[1] + 0.5 * sum(sz)
        s_z = py2_round(math.sqrt(wc * hc))
        z = crop_canvas(im, pos, 127, s_z, self.avg)
        with torch.no_grad():
            f = self.net.featureExtract(z[None])
            self.r1 = self.net.conv_r1(f).view(20, self.net.feature_out, 4, 4)
            self.cls1 = self.net.conv_cls1(f).view(10, self.net.feature_out, 4, 4)
        hann = np.hanning(self.score_size)
        self.window = np.tile(np.outer(hann, hann).flatten(), 5)
        self.pos, self.sz = np.array(pos, float), np.array(sz, float)

    def track(self, im):
        wc = self.sz[1] + 0.5 * sum(self.sz)
        hc = self.sz[0] + 0.5 * sum(self.sz)
        s_z = math.sqrt(wc * hc)
        scale_z = 127 / s_z
        d_search = (self.instance - 127) // 2
        s_x = s_z + 2 * (d_search / scale_z)
        x = crop_canvas(im, self.pos, self.instance, py2_round(s_x), self.avg)
        with torch.no_grad():
            x_f = self.net.featureExtract(x[None])
            delta = self.net.regress_adjust(F.conv2d(self.net.conv_r2(x_f), self.r1))
            score = F.conv2d(self.net.conv_cls2(x_f), self.cls1)
        delta = delta.permute(1, 2, 3, 0).contiguous().view(4, -1).numpy().copy()
        score = F.softmax(score.permute(1, 2, 3, 0).contiguous().view(2, -1), dim=0)[1].numpy()
        a = self.anchor
        delta[0] = delta[0] * a[:, 2] + a[:, 0]
        delta[1] = delta[1] * a[:, 3] + a[:, 1]
        delta[2] = np.exp(delta[2]) * a[:, 2]
        delta[3] = np.exp(delta[3]) * a[:, 3]
        tsz = self.sz * scale_z

        def padded(w, h):
            p = (w + h) * 0.5
            return np.sqrt((w + p) * (h + p))

        s_c = np.maximum(padded(delta[2], delta[3]) / padded(tsz[0], tsz[1]),
                         padded(tsz[0], tsz[1]) / padded(delta[2], delta[3]))
        ratio = (tsz[0] / tsz[1]) / (delta[2] / delta[3])
        r_c = np.maximum(ratio, 1.0 / ratio)
        penalty = np.exp(-(r_c * s_c - 1.0) * self.k)
        pscore = penalty * score * (1 - self.wi) + self.window * self.wi
        best = int(np.argmax(pscore))
        target = delta[:, best] / scale_z
        lr = penalty[best] * score[best] * self.lr
        pos = np.array([self.pos[0] + target[0], self.pos[1] + target[1]])
        size = np.array([self.sz[0] * (1 - lr) + target[2] * lr, self.sz[1] * (1 - lr) + target[3] * lr])
        pos[0] = max(0, min(self.im_w, pos[0]))
        pos[1] = max(0, min(self.im_h, pos[1]))
        size[0] = max(10, min(self.im_w, size[0]))
        size[1] = max(10, min(self.im_h, size[1]))
        self.pos, self.sz = pos, size
        return pos, size, float(score[best])
