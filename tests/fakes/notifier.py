"""A Notifier that records what it was asked to say (a fake of our own port)."""

from __future__ import annotations

from bot.domain import ResetRequest
from bot.ports import NotifyEvent


class FakeNotifier:
    def __init__(self) -> None:
        self.events: list[tuple[NotifyEvent, str, str]] = []
        self.fail_times = 0
        self.stuck: list[tuple[NotifyEvent, str, str]] = []

    async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("chat service unreachable")
        self.events.append((event, request.id, request.state.value))

    async def delivery_failed(self, event: NotifyEvent, request: ResetRequest, error: str) -> None:
        self.stuck.append((event, request.id, error))

    def of(self, request_id: str) -> list[NotifyEvent]:
        return [event for event, rid, _ in self.events if rid == request_id]
