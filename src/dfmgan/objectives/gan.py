"""The DCGAN baseline: BCE for D, non-saturating -log D(G(z)) for G, alternating
updates (D first, then G against the updated D), as in the reference DCGAN code.

Real and generated batches go through D in separate forward passes, so each
BatchNorm normalises one source at a time."""
from __future__ import annotations

import torch

from .base import Objective, d_loss, d_stats, frozen, g_adv_loss


class GANObjective(Objective):
    name = "gan"

    def step(self, real, z, labels=None) -> dict[str, torch.Tensor]:
        fake = self.G(z, labels)  # (B, C, H, W); one G forward serves both updates
        d_real = self.D(real, labels)
        d_fake = self.D(fake.detach(), labels)
        loss_d = d_loss(d_real, d_fake)
        self.opt["D"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt["D"].step()

        with frozen(self.D):  # G's step leaves no gradient in D
            loss_g = g_adv_loss(self.D(fake, labels))
        self.opt["G"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt["G"].step()
        return {"loss/D": loss_d.detach(), "loss/G": loss_g.detach(), **d_stats(d_real, d_fake)}
