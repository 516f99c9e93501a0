"""Every topic name, defined once (SPEC §7), and which ones must be co-partitioned."""

from __future__ import annotations

from dataclasses import dataclass

from streams.settings import Settings, app_id, topic_name

ORDERS = "orders.fulfilled"
AMENDMENTS = "assets.amendments"
SNAPSHOTS = "assets.snapshots"
DEADLETTER = "assets.deadletter"
ACCOUNTS = "accounts.mrr"  # SPEC §10: account records, compacted, key account_id
# Internal: claims by event id (the registry), commands by asset id (the fold), asset
# changes by account id (the account rollup).
BY_EVENT = "assets.by-event"
COMMANDS = "assets.commands"
ACCOUNT_CHANGES = "assets.account-changes"

ASSET_TABLE = "assets"
FINGERPRINT_TABLE = "event-fingerprints"
ACCOUNT_TABLE = "accounts"


@dataclass(frozen=True, slots=True)
class TopicNames:
    orders: str
    amendments: str
    snapshots: str
    deadletter: str
    by_event: str
    commands: str
    asset_changelog: str
    fingerprint_changelog: str
    accounts: str
    account_changes: str
    account_changelog: str

    def co_partitioned(self) -> list[tuple[str, str]]:
        """Pairs whose partitions must line up: a keyed stream and the table it updates."""
        return [
            (self.commands, self.asset_changelog),
            (self.by_event, self.fingerprint_changelog),
            (self.account_changes, self.account_changelog),
        ]

    def created_by_us(self) -> list[str]:
        return [self.orders, self.amendments, self.snapshots, self.deadletter, self.accounts,
                self.by_event, self.commands, self.account_changes]  # fmt: skip

    def compacted(self) -> set[str]:
        """Latest value per key: the outputs consumers read as state, and the changelogs."""
        return {self.snapshots, self.accounts, self.asset_changelog, self.fingerprint_changelog,
                self.account_changelog}  # fmt: skip

    def changelogs(self) -> list[str]:
        return [self.asset_changelog, self.fingerprint_changelog, self.account_changelog]


def topic_names(settings: Settings) -> TopicNames:
    app = app_id(settings)
    return TopicNames(
        orders=topic_name(settings, ORDERS),
        amendments=topic_name(settings, AMENDMENTS),
        snapshots=topic_name(settings, SNAPSHOTS),
        deadletter=topic_name(settings, DEADLETTER),
        by_event=topic_name(settings, BY_EVENT),
        commands=topic_name(settings, COMMANDS),
        asset_changelog=f"{app}-{ASSET_TABLE}-changelog",
        fingerprint_changelog=f"{app}-{FINGERPRINT_TABLE}-changelog",
        accounts=topic_name(settings, ACCOUNTS),
        account_changes=topic_name(settings, ACCOUNT_CHANGES),
        account_changelog=f"{app}-{ACCOUNT_TABLE}-changelog",
    )


def resolve(settings: Settings, name: str) -> str:
    """A base name ("assets.snapshots") or a full one; the prefix is added when missing."""
    prefix = settings.topic_prefix
    return name if prefix and name.startswith(prefix) else topic_name(settings, name)
