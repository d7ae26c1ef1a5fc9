"""The scalar pieces of a sequential-impulse contact solver (the graded exercises use these).

Each function works on broadcastable arrays, so the solver calls them on whole rounds of pairs.
Sign convention: impulses act along +normal on body B and -normal on body A; a positive normal
velocity means the bodies separate.
"""

from __future__ import annotations

import jax.numpy as jnp

from rizzlib.jax2d.math2d import cross


def effective_mass_inverse(inv_mass_a, inv_inertia_a, r_a, inv_mass_b, inv_inertia_b, r_b, direction):
    """K = m_a^-1 + m_b^-1 + I_a^-1 (r_a x d)^2 + I_b^-1 (r_b x d)^2, in 1/kg.

    Args:
        inv_mass_*: (...) 1/kg.  inv_inertia_*: (...) 1/(kg m^2).
        r_a, r_b: (..., 2) contact point minus each centre of mass, m.
        direction: (..., 2) unit constraint direction (normal or tangent).

    Returns:
        (...) the inverse of the effective mass seen by an impulse along ``direction``.
    """
    ra_d = cross(r_a, direction)
    rb_d = cross(r_b, direction)
    return inv_mass_a + inv_mass_b + inv_inertia_a * ra_d**2 + inv_inertia_b * rb_d**2


def normal_impulse(normal_velocity, normal_mass, target_velocity, accumulated):
    """One projected Gauss-Seidel update of a non-penetration impulse.

    The impulse that would make the relative normal velocity equal ``target_velocity`` is
    ``normal_mass * (target_velocity - normal_velocity)``; it is added to the impulse accumulated
    so far this step and the *sum* is clamped at 0 (contacts push, never pull), so an earlier
    over-push can be taken back.

    Args:
        normal_velocity: (...) current relative normal velocity v_n = (v_B - v_A) . n, m/s.
        normal_mass: (...) 1/K along the normal, kg (0 in masked lanes).
        target_velocity: (...) desired v_n, m/s: the Baumgarte push-out, -gap/dt for speculative
            contacts, or the restitution target (see :func:`restitution_velocity`).
        accumulated: (...) impulse accumulated this step, N s (>= 0).

    Returns:
        (new_accumulated, delta): the clamped sum and the impulse to apply now (delta = new - old).
    """
    candidate = accumulated + normal_mass * (target_velocity - normal_velocity)
    new = jnp.maximum(candidate, 0.0)
    return new, new - accumulated


def clamp_friction(accumulated, delta, mu, normal_impulse_sum):
    """Coulomb friction on an accumulated tangent impulse: |P_t| <= mu P_n.

    Args:
        accumulated: (...) tangent impulse accumulated this step, N s.
        delta: (...) the unclamped update, usually ``-tangent_mass * v_t``, N s.
        mu: (...) friction coefficient (non-dimensional, >= 0).
        normal_impulse_sum: (...) the accumulated normal impulse of the same point, N s (>= 0).

    Returns:
        (new_accumulated, applied_delta) with new_accumulated = clip(accumulated + delta, -mu P_n, mu P_n).
    """
    bound = mu * normal_impulse_sum
    new = jnp.clip(accumulated + delta, -bound, bound)
    return new, new - accumulated


def restitution_velocity(normal_velocity_before, restitution, threshold):
    """Target separating speed after a bounce, and whether restitution applies at all.

    Restitution acts only on impacts faster than ``threshold`` (resting contacts would otherwise
    jitter), and aims at v_n = -e v_n(before): never faster than the approach, so energy is not
    created.

    Args:
        normal_velocity_before: (...) v_n at the start of the step, m/s (negative = approaching).
        restitution: (...) e in [0, 1].  threshold: () m/s, >= 0.

    Returns:
        (target_velocity, applies): (...) m/s and (...) bool.
    """
    applies = normal_velocity_before < -threshold
    return jnp.where(applies, -restitution * normal_velocity_before, 0.0), applies


def block_normal_impulse(normal_velocity, target_velocity, accumulated, k, k_inverse):
    """Both normal impulses of a two-point manifold solved together (Box2D 2.4's block solver).

    Finds the accumulated impulses x >= 0 with v_n(x) - target >= 0 and x_i (v_n,i - target_i) = 0,
    where v_n(x) = v_n + K (x - accumulated), by trying the four cases of the 2-variable linear
    complementarity problem in Box2D's order: both points push, only the first, only the second,
    neither. Sequential updates of the two points instead leave a symmetric impact lopsided.

    Args:
        normal_velocity: (..., 2) current v_n of both points, m/s.
        target_velocity: (..., 2) m/s.  accumulated: (..., 2) N s (>= 0).
        k: (..., 2, 2) the block's inverse effective mass, 1/kg.  k_inverse: (..., 2, 2) its inverse.

    Returns:
        (new_accumulated (..., 2), found (...) bool). Where no case fits (only possible with
        rounding) ``found`` is False and ``new_accumulated`` equals ``accumulated``.
    """
    b = normal_velocity - target_velocity - jnp.einsum("...ij,...j->...i", k, accumulated)
    k11, k12, k22 = k[..., 0, 0], k[..., 0, 1], k[..., 1, 1]
    b1, b2 = b[..., 0], b[..., 1]
    both = -jnp.einsum("...ij,...j->...i", k_inverse, b)
    ok_both = jnp.all(both >= 0.0, axis=-1)
    x1 = -b1 / jnp.where(k11 > 0.0, k11, 1.0)
    ok_first = (x1 >= 0.0) & (k12 * x1 + b2 >= 0.0) & (k11 > 0.0)
    x2 = -b2 / jnp.where(k22 > 0.0, k22, 1.0)
    ok_second = (x2 >= 0.0) & (k12 * x2 + b1 >= 0.0) & (k22 > 0.0)
    ok_none = (b1 >= 0.0) & (b2 >= 0.0)
    zero = jnp.zeros_like(x1)
    first = jnp.stack([x1, zero], -1)
    second = jnp.stack([zero, x2], -1)
    out = jnp.where(ok_both[..., None], both,
                    jnp.where(ok_first[..., None], first,
                              jnp.where(ok_second[..., None], second,
                                        jnp.where(ok_none[..., None], 0.0, accumulated))))
    return out, ok_both | ok_first | ok_second | ok_none


def bounce_speed(approach_speed, normal_acceleration, gap, restitution, dt):
    """Separating speed after a bounce that keeps the integrator's energy in the ratio e^2.

    Semi-implicit Euler (v += a dt, then x += v dt) under a constant acceleration a towards the
    surface conserves the shadow energy E' = v^2/2 + a h + a dt v/2 (v the approach velocity along
    -n, h the height above the surface) exactly, not v^2/2 + a h. A body that starts the step a
    ``gap`` h away approaching at ``approach_speed`` w and ends it on the surface has
    2E' = (w + a dt/2)^2 - (a dt/2)^2 + 2 a h; leaving with the speed u that gives e^2 times that
    shadow energy, u^2 - a dt u = e^2 2E', makes its next apex e^2 times its drop height to the
    integrator's accuracy (with a = 0 this is u = e w, the usual rule).

    Args:
        approach_speed: (...) w = -v_n at the start of the step, m/s (clamped at 0).
        normal_acceleration: (...) a >= 0, the relative acceleration along -n this step, m/s^2.
        gap: (...) separation at the start of the step, m (clamped at 0).
        restitution: (...) e in [0, 1].  dt: () s.

    Returns:
        (impact_speed, bounce_speed): (...) the continuous approach speed at touch-down
        sqrt(w^2 + 2 a h), m/s, and the separating speed u, m/s.
    """
    w = jnp.maximum(approach_speed, 0.0)
    h = jnp.maximum(gap, 0.0)
    half = 0.5 * normal_acceleration * dt
    twice_shadow = (w + half) ** 2 - half**2 + 2.0 * normal_acceleration * h
    return _safe_sqrt(w * w + 2.0 * normal_acceleration * h), half + _safe_sqrt(half**2 + restitution**2 * twice_shadow)


def _safe_sqrt(x):
    """sqrt(max(x, 0)) with a zero (not NaN) derivative at and below 0."""
    pos = x > 0.0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)
