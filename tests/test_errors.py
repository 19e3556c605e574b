"""Response codes received from another node become the same exceptions a local failure
raises, whatever subclasses the tree has grown."""

from __future__ import annotations

import pytest

from resolver.codes import ResponseCode as RC
from resolver.dns_names import NotNameable
from resolver.errors import HandleNotFound, InvalidHandle, TieridError, error_for
from resolver.gs1.keys import InvalidGs1Key


@pytest.mark.parametrize("rc", [int(rc) for rc in RC])
def test_every_response_code_comes_back_as_an_error_carrying_it(rc: int) -> None:
    err = error_for(rc, "from upstream", handle="88.1/X")
    assert isinstance(err, TieridError)
    assert err.rc == rc and err.handle == "88.1/X"


def test_an_invalid_identifier_is_the_plain_class_with_a_remote_rule() -> None:
    assert {NotNameable, InvalidGs1Key} <= set(InvalidHandle.__subclasses__())
    err = error_for(RC.INVALID_HANDLE, "bad suffix")
    assert type(err) is InvalidHandle and err.rule == "remote" and err.message == "bad suffix"
    assert type(error_for(RC.HANDLE_NOT_FOUND, "")) is HandleNotFound
