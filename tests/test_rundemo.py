"""`make run`'s launcher: the admin password is the last thing it prints, framed, with how to set a
new one — never among the simulator's details (issue 15, item 11)."""

from __future__ import annotations

from io import StringIO

from vpcepadmin.management.commands.rundemo import Command, Runserver, admin_password_box

PASSWORD = "s3cret-Generated-once"


def test_it_frames_the_password_with_how_to_set_a_new_one() -> None:
    lines = admin_password_box(PASSWORD).splitlines()
    assert lines[0] == lines[-1] and set(lines[0]) == {"+", "-"}
    assert all(
        line.startswith("| ") and line.endswith(" |") and len(line) == len(lines[0]) for line in lines[1:-1]
    )
    assert any(f"Password: {PASSWORD}" in line for line in lines)
    assert any(".venv/bin/python manage.py changepassword admin" in line for line in lines)


def test_it_prints_the_password_after_everything_else_once_the_server_listens() -> None:
    out = StringIO()
    command = Command(stdout=out, no_color=True)
    options = {"host": "127.0.0.1", "port": 8000}
    command._greet(
        options, PASSWORD, "Simulator on http://127.0.0.1:8001/ (demo user, AK …)", ["Prod", "Staging"]
    )
    greeting = out.getvalue()
    assert PASSWORD not in greeting  # nothing about it among the simulator's details
    assert "Simulator on" in greeting and "Dashboard on http://127.0.0.1:8000/" in greeting

    server = Runserver(stdout=out, no_color=True)
    server.last_words = admin_password_box(PASSWORD)
    # What runserver's handle() sets before it binds.
    vars(server).update(addr="127.0.0.1", port="8000", _raw_ipv6=False, protocol="http")
    server.on_bind("8000")
    shown = out.getvalue()
    assert shown.rstrip().endswith(admin_password_box(PASSWORD).splitlines()[-1])
    assert shown.index("Starting development server") < shown.index(PASSWORD)
    assert shown.count(PASSWORD) == 1


def test_an_existing_admin_is_told_how_to_set_a_new_password() -> None:
    out = StringIO()
    Command(stdout=out, no_color=True)._greet({"host": "h", "port": 1}, None, "Simulator", [])
    assert "manage.py changepassword admin" in out.getvalue()
