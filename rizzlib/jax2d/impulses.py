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
