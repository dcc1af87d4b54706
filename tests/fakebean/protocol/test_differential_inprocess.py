"""The differential state machine (``test_differential``) with fakebean reached in-process.

The ``fakebean`` fixture's ``client()`` talks to the engine without a socket (``fakebean.inprocess``):
this runs the same Hypothesis machine with every fakebean connection a ``DirectSocket``, so the bytes
that path carries, both ways, are held byte for byte against a real beanstalkd's.
"""

from __future__ import annotations

import pytest

from tests.fakebean.protocol.test_differential import DifferentialMachine
from tests.support.differential import profile_settings

pytestmark = pytest.mark.real


class InProcessDifferentialMachine(DifferentialMachine):
    in_process = True


InProcessDifferentialMachine.TestCase.settings = profile_settings(
    ci=dict(max_examples=40, stateful_step_count=40), long=dict(max_examples=1000, stateful_step_count=60)
)
TestInProcessFakebeanMatchesRealBeanstalkd = InProcessDifferentialMachine.TestCase
