"""A pool of Ray actors that outlives some of them: the task of an actor that died (killed
worker, lost node) goes back to the queue and runs on another one.

Ray restarts a dead actor where it can place it (``max_restarts=-1``) but does not retry its
task (``max_task_retries=0``): the pool does, on whichever actor is free, and gives the
restarted actor work again only once it answers a ping, so an actor whose node is gone (and
which may never be placed again) holds no work hostage.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

RETRIES = 3  # times a task runs again after losing its actor
REST_S = 2.0  # first wait before pinging a dead actor (doubles, up to MAX_REST_S)
MAX_REST_S = 30.0
PATIENCE_S = 600.0  # no live actor this long: the queued tasks fail


class WorkerLost(RuntimeError):
    """A task whose actor died more often than the pool retries, or no actor left."""


class WorkerPool:
    """Runs tasks on ``actors`` with ``call(actor, task) -> ObjectRef``; results and errors
    go to the callbacks of :meth:`run`, which may add or drop tasks meanwhile."""

    def __init__(self, actors: list, call: Callable[[Any, Any], Any]) -> None:
        self.actors = actors
        self.call = call
        self.queue: deque = deque()
        self.idle = list(actors)
        self.pending: dict[Any, tuple[Any, Any]] = {}  # ref -> (actor, task)
        self.pings: dict[Any, tuple[Any, float]] = {}  # ref -> (actor, rest so far)
        self.resting: list[tuple[float, Any, float]] = []  # (ping at, actor, rest)
        self.losses: dict[int, int] = {}  # id(task) -> actors lost running it

    def add(self, tasks: Iterable[Any], *, first: bool = False) -> None:
        """Queue ``tasks`` at the end, or (``first``) before every queued task."""
        if first:
            self.queue.extendleft(reversed(list(tasks)))
        else:
            self.queue.extend(tasks)

    def running(self) -> list[Any]:
        """The tasks being run now."""
        return [task for _, task in self.pending.values()]

    def drop(self, keep: Callable[[Any], bool]) -> None:
        """Forget the queued tasks for which ``keep`` is false."""
        self.queue = deque(t for t in self.queue if keep(t))

    def run(self, on_result: Callable[[Any, Any], None],
            on_error: Callable[[Any, BaseException], None],
            on_tick: Callable[[], None] = lambda: None) -> None:
        """Until every task is done or failed; ``on_tick`` about once a second."""
        import ray
        from ray.exceptions import RayActorError

        alive_at = time.monotonic()
        while self.queue or self.pending:
            now = time.monotonic()
            self._ping_rested(now)
            while self.queue and self.idle:
                task, actor = self.queue.popleft(), self.idle.pop()
                self.pending[self.call(actor, task)] = (actor, task)
            if self.pending or self.idle:
                alive_at = now
            elif now - alive_at > PATIENCE_S:
                for task in self.queue:
                    on_error(task, WorkerLost(f"no Ray worker answered for {PATIENCE_S:.0f} s"))
                self.queue.clear()
                break
            waiting = [*self.pending, *self.pings]
            if not waiting:  # every actor rests: nothing to wait on
                time.sleep(0.2)
            ready = ray.wait(waiting, num_returns=1, timeout=1.0)[0] if waiting else []
            for ref in ready:
                if ref in self.pings:
                    actor, rest = self.pings.pop(ref)
                    try:
                        ray.get(ref)
                        self.idle.append(actor)
                    except RayActorError:
                        self._rest(actor, min(MAX_REST_S, 2 * rest))
                    continue
                actor, task = self.pending.pop(ref)
                try:
                    result = ray.get(ref)
                except RayActorError as exc:
                    self._rest(actor, REST_S)
                    lost = self.losses[id(task)] = self.losses.get(id(task), 0) + 1
                    if lost > RETRIES:
                        on_error(task, WorkerLost(f"its Ray worker died {lost} times: {exc}"))
                    else:
                        self.queue.appendleft(task)
                    continue
                except Exception as exc:  # the task itself failed (bad input, ffmpeg error)
                    self.idle.append(actor)
                    on_error(task, exc)
                    continue
                self.idle.append(actor)
                on_result(task, result)
            on_tick()

    def _rest(self, actor: Any, rest: float) -> None:
        self.resting.append((time.monotonic() + rest, actor, rest))

    def _ping_rested(self, now: float) -> None:
        due = [r for r in self.resting if r[0] <= now]
        self.resting = [r for r in self.resting if r[0] > now]
        for _, actor, rest in due:
            self.pings[actor.pid.remote()] = (actor, rest)

    def close(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor)
