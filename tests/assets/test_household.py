from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from peergrid.assets.household import Household, household_energy
from peergrid.assets.profiles import load_profile_library


@pytest.fixture(scope="module")
def library():  # type: ignore[no-untyped-def]
    return load_profile_library()


def test_profiles_are_a_year_of_quarter_hours(library) -> None:  # type: ignore[no-untyped-def]
    for series in (*library.load_p.values(), *library.pv.values()):
        assert series.shape == (366 * 96,)
        assert np.isfinite(series).all() and (series >= 0).all()


def test_yearly_consumption_is_scaled(library) -> None:  # type: ignore[no-untyped-def]
    house = Household("H1", 0, "H0-B", 3200.0, "PV3", 6.0)
    energy = household_energy([house], library, library.window(dt.date(2016, 1, 1), 366), 15)
    assert energy.load_kwh.sum() == pytest.approx(3200.0)
    assert energy.pv_kwh.sum() == pytest.approx(library.pv["PV3"].sum() * 0.25 * 6.0)


def test_longer_slots_keep_energy(library) -> None:  # type: ignore[no-untyped-def]
    house = Household("H1", 0, "H0-A", 4000.0, "PV1", 5.0)
    window = library.window(dt.date(2016, 6, 9), 1)
    q = household_energy([house], library, window, 15)
    h = household_energy([house], library, window, 60)
    assert h.n_slots == 24 and q.n_slots == 96
    assert h.load_kwh.sum() == pytest.approx(q.load_kwh.sum())
    assert h.net_kwh[0, 12] == pytest.approx(q.net_kwh[0, 48:52].sum())


def test_household_without_pv(library) -> None:  # type: ignore[no-untyped-def]
    house = Household("H1", 0, "H0-A", 4000.0)
    energy = household_energy([house], library, library.window(dt.date(2016, 6, 9), 1), 15)
    assert (energy.pv_kwh == 0).all()
    assert (energy.net_kwh < 0).all()
