"""Three-way merges of configuration documents: programs are matched by their id."""

from __future__ import annotations

from fieldtech.domain.merge import describe_path, merge_config
from fieldtech.domain.models import ControllerConfig, Program


def config(*programs: Program) -> dict:
    return ControllerConfig(zones=ControllerConfig.default_for(4).zones,
                            programs=list(programs)).to_dict()


A = Program(id="a", name="Lawn", zone_minutes={1: 10})
B = Program(id="b", name="Beds", zone_minutes={2: 5})
C = Program(id="c", name="Drip", zone_minutes={3: 20})


def test_a_delete_on_one_side_and_an_edit_of_another_program_merge_cleanly() -> None:
    base = config(A, B, C)
    theirs = config(A, C)  # a colleague deleted Beds
    mine = config(A, B, Program(id="c", name="Drip", zone_minutes={3: 35}))  # I edited Drip
    merged = merge_config(base, theirs, mine)
    assert merged.clean, merged.conflicts
    programs = merged.merged["programs"]
    assert [(p["id"], p["name"]) for p in programs] == [("a", "Lawn"), ("c", "Drip")]
    assert programs[1]["zone_minutes"] == {"3": 35}  # my edit, on the program I edited


def test_both_sides_editing_one_program_is_one_conflict_named_for_a_person() -> None:
    base = config(A, B)
    theirs = config(A, Program(id="b", name="Beds", zone_minutes={2: 9}))
    mine = config(A, Program(id="b", name="Beds", zone_minutes={2: 1}))
    merged = merge_config(base, theirs, mine)
    assert merged.conflicts == ("programs.b",)
    assert describe_path("programs.program-2") == "program 2"


def test_a_reorder_on_one_side_keeps_my_order_and_their_new_program_comes_after() -> None:
    base = config(A, B)
    theirs = config(A, B, C)  # they added Drip
    mine = config(B, A)  # I moved Beds first
    merged = merge_config(base, theirs, mine)
    assert merged.clean
    assert [p["id"] for p in merged.merged["programs"]] == ["b", "a", "c"]
