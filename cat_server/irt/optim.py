"""The numerical steps the EM calibration takes: per-item Newton updates and SQUAREM.

Finite-difference gradients and Hessians of a separable objective (one row an
item), damped Newton steps with step halving, and SQUAREM's extrapolation from
two EM steps (Varadhan & Roland, 2008, scheme S3). Arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

H_STEP = 1e-4  # finite-difference step on the parameters' working scale


def grad_hess(f, xi, active):
    """Central-difference gradient and Hessian of a separable objective (J,P)->(J,)."""
    J, P = xi.shape
    f0 = f(xi)
    g = np.zeros((J, P))
    H = np.zeros((J, P, P))
    fp, fm = {}, {}
    cols = [p for p in range(P) if active[:, p].any()]
    for p in cols:
        e = np.zeros(P)
        e[p] = H_STEP
        fp[p], fm[p] = f(xi + e), f(xi - e)
        g[:, p] = (fp[p] - fm[p]) / (2 * H_STEP)
        H[:, p, p] = (fp[p] - 2 * f0 + fm[p]) / H_STEP**2
    for i, p in enumerate(cols):
        for q in cols[i + 1 :]:
            e1 = np.zeros(P)
            e1[p] = H_STEP
            e2 = np.zeros(P)
            e2[q] = H_STEP
            v = (f(xi + e1 + e2) - f(xi + e1 - e2) - f(xi - e1 + e2) + f(xi - e1 - e2)) / (
                4 * H_STEP * H_STEP
            )
            H[:, p, q] = H[:, q, p] = v
    g = np.where(active, g, 0.0)
    mask = active[:, :, None] & active[:, None, :]
    H = np.where(mask, H, 0.0) - np.eye(P) * (~active)[:, :, None]
    return f0, g, H


def newton(f, xi, active, n_steps=4):
    """A few damped Newton steps per item, with step halving; returns xi, H."""
    H = None
    for _ in range(n_steps):
        f0, g, H = grad_hess(f, xi, active)
        # Make the Hessian negative definite (Levenberg damping) where it is not.
        eig = np.linalg.eigvalsh(H)
        shift = np.maximum(eig.max(axis=1) + 1e-3, 0.0)
        Hd = H - shift[:, None, None] * np.eye(H.shape[1])
        delta = -np.linalg.solve(Hd, g[..., None])[..., 0]
        delta = np.where(active, delta, 0.0)
        big = np.abs(delta).max(axis=1, keepdims=True)
        delta = delta / np.maximum(big, 1.0)  # at most one unit per step
        t = np.ones(xi.shape[0])
        for _ in range(12):
            cand = xi + t[:, None] * delta
            worse = f(cand) < f0 - 1e-10
            if not worse.any():
                break
            t = np.where(worse, t * 0.5, t)
        t = np.where(f(xi + t[:, None] * delta) < f0 - 1e-10, 0.0, t)
        xi = xi + t[:, None] * delta
        if np.abs(t[:, None] * delta).max() < 1e-7:
            break
    return xi, H


def squarem(x0, x1, x2, active, latent):
    """SQUAREM's extrapolated point from two EM steps (scheme S3), or None if r is 0."""

    def vec(s):
        parts = [s[0][active]]
        if latent:
            parts.append(np.array([s[1], np.log(s[2])]))
        return np.concatenate(parts)

    p0, p1, p2 = vec(x0), vec(x1), vec(x2)
    r = p1 - p0
    v = p2 - 2.0 * p1 + p0
    rr, vv = float(r @ r), float(v @ v)
    if rr == 0.0 or vv == 0.0:
        return None
    alpha = -np.sqrt(rr / vv)
    alpha = min(alpha, -1.0)  # -1 gives x2 itself: never less than two EM steps
    p = p0 - 2.0 * alpha * r + alpha * alpha * v
    xi = x0[0].copy()
    xi[active] = p[: int(active.sum())]
    if latent:
        return xi, float(p[-2]), float(np.exp(p[-1]))
    return xi, x0[1], x0[2]


def update_common_slope(f, xi, free):
    """One-dimensional Newton steps on the shared log-slope of the 1PL."""
    for _ in range(3):
        s = xi[0, 0]

        def total(v):
            z = xi.copy()
            z[:, 0] = v
            return f(z)[free].sum()

        f0, fp, fm = total(s), total(s + H_STEP), total(s - H_STEP)
        g = (fp - fm) / (2 * H_STEP)
        h = (fp - 2 * f0 + fm) / H_STEP**2
        step = -g / h if h < 0 else 0.1 * np.sign(g)
        step = float(np.clip(step, -0.5, 0.5))
        for _ in range(10):
            if total(s + step) >= f0:
                break
            step *= 0.5
        else:
            step = 0.0
        xi[:, 0] = s + step
        if abs(step) < 1e-7:
            break
    return xi
