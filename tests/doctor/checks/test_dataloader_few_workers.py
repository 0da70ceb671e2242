"""dataloader.few-workers: the program's DataLoader has too few worker processes to keep the GPU busy."""

from __future__ import annotations

from check_facts import findings_of

from torchrig.doctor.findings import Severity

# --- healthy controls: read and answered, never refused, never an error ---------------------------------------------


def test_lightning_s_few_workers_warning_is_a_warning_about_the_data_not_the_machine() -> None:
    # kuleshov-group/caduceus#29 (Lightning 1.x wording) and EveryVoiceTTS/EveryVoice#173 (2.x wording)
    old = (
        "site-packages/pytorch_lightning/trainer/connectors/data_connector.py:224: PossibleUserWarning: The dataloader, "
        "val_dataloader 0, does not have many workers which may be a bottleneck. Consider increasing the value of the "
        "`num_workers` argument` (try 128 which is the number of cpus on this machine) in the `DataLoader` init to "
        "improve performance.\n"
    )
    new = (
        "site-packages/pytorch_lightning/trainer/connectors/data_connector.py:441: The 'val_dataloader' does not have "
        "many workers which may be a bottleneck. Consider increasing the value of the `num_workers` argument` to "
        "`num_workers=15` in the `DataLoader` to improve performance.\n"
    )
    for text in (old, new):
        found = findings_of(text)
        assert [(f.code, f.severity) for f in found] == [("dataloader.few-workers", Severity.WARNING)]
