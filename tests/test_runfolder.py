"""The run folder's batch manifests: who each rendered email is for, read back exactly as last written."""

from __future__ import annotations

from digest.runfolder import RunFolder, write_manifest


def test_rendered_reads_a_rewritten_manifest_even_of_the_same_size(tmp_path):
    """Manifests are parsed once per content (every deliver batch looks up the whole run): a manifest
    rewritten with the same length, two sellers' files swapped, is read as it is now."""
    run = RunFolder.for_week(tmp_path / "runs", "2026-W47")
    batch = run.emails / "20261123T0600Z-0000"
    batch.mkdir(parents=True)
    write_manifest(batch, [("Ana@x.com", "m1.eml"), ("bo@x.com", "m2.eml")])
    write_manifest(run.emails / "20261123T0600Z-0001", [("cy@x.com", "m1.eml")])
    assert run.rendered() == {"ana@x.com": batch / "m1.eml", "bo@x.com": batch / "m2.eml",
                              "cy@x.com": run.emails / "20261123T0600Z-0001" / "m1.eml"}
    write_manifest(batch, [("ana@x.com", "m2.eml"), ("bo@x.com", "m1.eml")])
    assert run.rendered(batch.name) == {"ana@x.com": batch / "m2.eml", "bo@x.com": batch / "m1.eml"}
    assert run.rendered()["ana@x.com"] == batch / "m2.eml"
