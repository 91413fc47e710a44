"""Environments on Ray actors: a worker pool, a Gymnasium ``VectorEnv`` over it, and per-env handles.

``N`` Ray actors (:class:`EnvWorker`) each host ``M`` environments made by ordinary env factories
(the same callables a local vector env takes), so any id and backend runs remotely unchanged.
:class:`RayEnvPool` owns the actors and maps env index ``i`` to worker ``i // M``, slot ``i % M``;
every call to the workers waits at most ``timeout_s`` seconds. Three views sit on the pool:

* :class:`RayVectorEnv`: a Gymnasium ``VectorEnv`` that batches like ``SyncVectorEnv`` (same spaces,
  ``reset(seed=s)`` seeds env ``i`` with ``s + i``, next-step autoreset, the same info dict), so the same
  seeds give the same observations as the local vector env. The SB3 view lives in rlft.agents.
* :meth:`RayEnvPool.handle`: one remote env as a ``gym.Env`` (reset, step, render, ``expert_action``),
  for code written against a single env; :meth:`RayEnvPool.map_episodes` runs such code on every env at
  once from driver threads and yields the results in input order (how collect and eval spread
  episodes: each episode depends on its seed only, so the output equals a sequential local run).

Failure handling: a worker that dies (its process is killed, its node goes away) or does not answer
within ``timeout_s`` is replaced by a fresh actor built from the same factories. Its envs are reset
with seeds derived deterministically from their last reset seed, the index and the restart count
(:func:`restart_seed`). A vector step that loses a worker returns, for each of its envs, the last
observation with ``truncated=True``, reward 0 and ``info["worker_restarted"] = True`` (the episode is
cut like a time limit cuts it); :meth:`RayEnvPool.map_episodes` reruns the interrupted episode from its
seed instead. After ``max_restarts`` consecutive failures of one worker, :class:`EnvWorkerError` is raised:
the caller never hangs.

:class:`RayExecutor` is a ``concurrent.futures.Executor`` over Ray tasks with resource requests, retries
of tasks whose worker died and a time limit per task (how ``rlft study --ray`` schedules its cells).

Ray is imported through :func:`rlft.errors.require`; without it a :class:`DependencyError` names the
``rlft[ray]`` extra.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from typing import Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate
from rlft.errors import ConfigError, EnvWorkerError, check_float, check_int, require

__all__ = [
    "EnvWorker",
    "RayEnvPool",
    "RayExecutor",
    "RayTaskError",
    "RayTaskTimeoutError",
    "RayVectorEnv",
    "RemoteEnv",
    "WorkerRestartedError",
    "init_ray",
    "restart_seed",
]

logger = logging.getLogger(__name__)

EnvFn = Callable[[], gym.Env]
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741


def _ray() -> Any:
    return require("ray", "running environments on Ray")


def init_ray(address: str | None = None, **kwargs: Any) -> bool:
    """Connect to Ray unless already connected; return whether this call connected.

    Args:
        address: ``None`` or ``"local"``: start a local Ray (or attach to the cluster ``RAY_ADDRESS``
            names); anything else goes to ``ray.init(address=...)`` (``auto``, ``HOST:PORT``,
            ``ray://HOST:10001``).
        kwargs: more ``ray.init`` arguments (``num_cpus`` for a local Ray, for instance).
    """
    ray = _ray()
    if ray.is_initialized():
        return False
    target = None if address in (None, "", "local") else address
    ray.init(address=target, logging_level=logging.WARNING, **kwargs)
    return True


def restart_seed(seed: int | None, index: int, restarts: int) -> int | None:
    """The reset seed of env ``index`` after its worker's ``restarts``-th restart (``None`` stays ``None``).

    A function of the env's last reset seed, its index and the restart count only, so a run that loses
    the same worker at the same step continues identically.
    """
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, index, restarts]).generate_state(1)[0])


class EnvWorker:
    """The body of one Ray actor: a few environments made in the actor's process.

    Args:
        env_fns: the env factories (pickled to the worker; they run there).
    """

    def __init__(self, env_fns: Sequence[EnvFn]) -> None:
        self.envs = [fn() for fn in env_fns]

    def describe(self) -> dict[str, Any]:
        """The first env's spaces, metadata, render mode and spec, plus the worker's process id."""
        env = self.envs[0]
        spec = env.spec
        try:
            spec_pickles = spec is not None and spec.to_json() is not None
        except ValueError:
            spec_pickles = False
        return {
            "observation_space": env.observation_space,
            "action_space": env.action_space,
            "metadata": dict(env.metadata),
            "render_mode": env.render_mode,
            "spec": spec if spec_pickles else None,
            "pid": os.getpid(),
        }

    def reset(
        self, slots: Sequence[int], seeds: Sequence[int | None], options: Sequence[Any] | None = None
    ) -> list[Any]:
        """``(obs, info)`` of ``env.reset(seed=..., options=...)`` for each slot (one options per slot)."""
        opts = options if options is not None else [None] * len(slots)
        return [
            self.envs[s].reset(seed=seed, options=o) for s, seed, o in zip(slots, seeds, opts, strict=True)
        ]

    def step(self, slots: Sequence[int], ops: Sequence[tuple[Any, ...]], autoreset: bool) -> list[Any]:
        """Apply one op per slot: ``("step", action)`` or ``("reset", seed, options)``.

        A step returns ``(obs, reward, terminated, truncated, info, reset)``; with ``autoreset`` an env
        whose episode ended is reset at once and ``reset`` is that ``(obs, info)``, else ``None``. A reset
        returns ``(obs, info)``.
        """
        out: list[Any] = []
        for slot, op in zip(slots, ops, strict=True):
            env = self.envs[slot]
            if op[0] == "reset":
                out.append(env.reset(seed=op[1], options=op[2]))
                continue
            obs, reward, terminated, truncated, info = env.step(op[1])
            again = env.reset() if autoreset and (terminated or truncated) else None
            out.append((obs, float(reward), bool(terminated), bool(truncated), info, again))
        return out

    def call(self, slots: Sequence[int], name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> list[Any]:
        """``env.get_wrapper_attr(name)`` for each slot, called with the arguments when callable."""
        out = []
        for slot in slots:
            attr = self.envs[slot].get_wrapper_attr(name)
            out.append(attr(*args, **kwargs) if callable(attr) else attr)
        return out

    def get_attr(self, slots: Sequence[int], name: str) -> list[Any]:
        """``env.get_wrapper_attr(name)`` for each slot (not called)."""
        return [self.envs[slot].get_wrapper_attr(name) for slot in slots]

    def is_wrapped(self, slots: Sequence[int], wrapper_class: type) -> list[bool]:
        """Whether each slot's env has a wrapper of ``wrapper_class`` in its chain."""
        out = []
        for slot in slots:
            env: Any = self.envs[slot]
            found = False
            while isinstance(env, gym.Wrapper):
                found = found or isinstance(env, wrapper_class)
                env = env.env
            out.append(found)
        return out

    def set_attr(self, slots: Sequence[int], name: str, values: Sequence[Any]) -> None:
        """``env.set_wrapper_attr(name, value)`` for each slot."""
        for slot, value in zip(slots, values, strict=True):
            self.envs[slot].set_wrapper_attr(name, value)

    def pid(self) -> int:
        """The worker's process id."""
        return os.getpid()

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()


class WorkerRestartedError(EnvWorkerError):
    """A call reached a worker that died or hung; it was replaced and its envs were reset.

    :meth:`RayEnvPool.map_episodes` catches it and reruns the episode from its seed.
    """


class RayEnvPool:
    """Ray actors hosting environments, with timeouts and restarts (see the module docstring).

    Args:
        env_fns: one factory per env; env ``i`` is made by ``env_fns[i]`` in worker ``i // envs_per_worker``.
        envs_per_worker: ``M``, envs each actor hosts (the last one may host fewer).
        worker_options: Ray actor options for each worker (default ``{"num_cpus": 1}``).
        timeout_s: longest wait for any worker reply, in seconds.
        max_restarts: consecutive failures of one worker (or reruns of one episode) before
            :class:`EnvWorkerError`.
        ray_address: where to connect when Ray is not connected yet (see :func:`init_ray`); a pool
            that connected shuts Ray down on :meth:`close`.

    Raises:
        DependencyError: Ray is not installed.
        ConfigError: no factories, or invalid counts.
        EnvWorkerError: a worker could not be started.
    """

    def __init__(
        self,
        env_fns: Sequence[EnvFn],
        envs_per_worker: int = 1,
        *,
        worker_options: dict[str, Any] | None = None,
        timeout_s: float = 120.0,
        max_restarts: int = 3,
        ray_address: str | None = None,
    ) -> None:
        ray = _ray()
        if not env_fns:
            raise ConfigError("RayEnvPool needs at least one env factory.")
        self.envs_per_worker = check_int("envs_per_worker", envs_per_worker)
        self.timeout_s = check_float("timeout_s", timeout_s, 0.0)
        self.max_restarts = check_int("max_restarts", max_restarts, 0)
        self.num_envs = len(env_fns)
        self.num_workers = -(-self.num_envs // self.envs_per_worker)
        self._fns = list(env_fns)
        self._options = dict(worker_options if worker_options is not None else {"num_cpus": 1})
        self._started_ray = init_ray(ray_address)
        self._actor_class = ray.remote(EnvWorker)
        self._lock = threading.RLock()
        self.restarts = [0] * self.num_workers
        """Restarts of each worker so far."""
        self._failures = [0] * self.num_workers
        self._generation = [0] * self.num_workers
        self._seeds: list[int | None] = [None] * self.num_envs
        self._fresh: list[Any] = [None] * self.num_envs
        self._cut = [False] * self.num_envs
        self.last_obs: list[Any] = [None] * self.num_envs
        """The latest observation of each env (what a step that loses its worker returns)."""
        self._closed = False
        self._warn_if_too_big(ray)
        self._workers: list[Any] = []
        try:
            self._workers = [self._spawn(w) for w in range(self.num_workers)]
            first = self._call_worker(0, "describe")
            for w in range(1, self.num_workers):
                self._call_worker(w, "pid")  # every worker is up (or restarted) before the first step
        except BaseException:
            self.close()
            raise
        self.observation_space: gym.Space = first["observation_space"]
        self.action_space: gym.Space = first["action_space"]
        self.metadata: dict[str, Any] = first["metadata"]
        self.render_mode: str | None = first["render_mode"]
        self.spec: Any = first["spec"]

    # ------------------------------------------------------------------ workers
    def _warn_if_too_big(self, ray: Any) -> None:
        """Warn when the workers ask for more CPUs than the cluster has (they would wait, then time out)."""
        cpus = float(self._options.get("num_cpus", 1) or 0) * self.num_workers
        total = float(ray.cluster_resources().get("CPU", 0))
        if cpus > total:
            logger.warning(
                "%d env workers x %s CPUs = %.2f CPUs, but the Ray cluster has %.2f: some workers cannot "
                "start until nodes join (lower --worker-cpus or --num-workers)",
                self.num_workers,
                self._options.get("num_cpus", 1),
                cpus,
                total,
            )

    def _slots(self, w: int) -> range:
        return range(w * self.envs_per_worker, min((w + 1) * self.envs_per_worker, self.num_envs))

    def worker_of(self, index: int) -> tuple[int, int]:
        """``(worker, slot)`` of env ``index``."""
        return divmod(index, self.envs_per_worker)

    def _spawn(self, w: int) -> Any:
        return self._actor_class.options(**self._options).remote([self._fns[i] for i in self._slots(w)])

    def worker_pids(self) -> list[int]:
        """The process id of each worker (for tests and monitoring)."""
        return [int(self._call_worker(w, "pid")) for w in range(self.num_workers)]

    def kill_worker(self, w: int) -> None:
        """Kill worker ``w``'s process without telling the pool (what a crash does; for tests and drills)."""
        _ray().kill(self._workers[w], no_restart=True)

    def _wait(self, refs: dict[int, Any]) -> tuple[dict[int, Any], list[int]]:
        """Results of one call per worker, and the workers that died or did not answer in time.

        Errors raised by the environments themselves (a bad action, a bad kwarg) propagate as they are.
        """
        ray = _ray()
        from ray.exceptions import RayActorError

        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=self.timeout_s)
        done = set(ready)
        out: dict[int, Any] = {}
        lost: list[int] = []
        for w, ref in refs.items():
            if ref not in done:
                logger.warning("env worker %d did not answer within %.0f s", w, self.timeout_s)
                lost.append(w)
                continue
            try:
                out[w] = ray.get(ref)
            except RayActorError as err:
                logger.warning("env worker %d died (%s)", w, type(err).__name__)
                lost.append(w)
        return out, lost

    def _submit(self, calls: dict[int, tuple[str, tuple[Any, ...]]]) -> dict[int, Any]:
        """Call ``method(*args)`` on each worker; restart the lost ones (their results are absent)."""
        if self._closed:
            raise EnvWorkerError("The Ray env pool is closed.")
        with self._lock:
            generations = {w: self._generation[w] for w in calls}
            refs = {w: getattr(self._workers[w], name).remote(*args) for w, (name, args) in calls.items()}
        out, lost = self._wait(refs)
        for w in out:
            self._failures[w] = 0
        for w in lost:
            self._restart(w, generations[w])
        return out

    def _call_worker(self, w: int, name: str, *args: Any) -> Any:
        """One call to worker ``w``, retried on a fresh worker after a restart."""
        while True:
            out = self._submit({w: (name, args)})
            if w in out:
                return out[w]

    def _restart(self, w: int, generation: int) -> None:
        """Replace worker ``w`` (unless another caller already did) and reset its envs, reseeded.

        Raises:
            EnvWorkerError: after ``max_restarts`` consecutive failures.
        """
        ray = _ray()
        with self._lock:
            if self._generation[w] != generation:
                return  # another thread saw the same failure and restarted it
            while True:
                self._failures[w] += 1
                if self._failures[w] > self.max_restarts:
                    raise EnvWorkerError(
                        f"env worker {w} (envs {list(self._slots(w))}) failed {self._failures[w]} times in a "
                        "row; giving up. Check the worker logs (ray logs), the node's health and whether "
                        "the cluster has the CPUs the workers ask for (--worker-cpus), or raise "
                        "--worker-timeout if the environments are just slow."
                    )
                ray.kill(self._workers[w], no_restart=True)
                self.restarts[w] += 1
                self._generation[w] += 1
                self._workers[w] = self._spawn(w)
                slots = list(self._slots(w))
                seeds = [restart_seed(self._seeds[i], i, self.restarts[w]) for i in slots]
                local = [i - slots[0] for i in slots]
                out, lost = self._wait({w: self._workers[w].reset.remote(local, seeds)})
                if lost:
                    continue
                logger.warning("env worker %d restarted (restart %d)", w, self.restarts[w])
                for i, result in zip(slots, out[w], strict=True):
                    self._fresh[i] = result
                    self._cut[i] = True
                return

    def _by_worker(self, indices: Iterable[int]) -> dict[int, list[int]]:
        groups: dict[int, list[int]] = {}
        for i in indices:
            groups.setdefault(i // self.envs_per_worker, []).append(i)
        return groups

    # ------------------------------------------------------------------ envs
    def reset(
        self,
        indices: Sequence[int],
        seeds: Sequence[int | None],
        options: Sequence[dict[str, Any] | None] | None = None,
    ) -> list[tuple[Any, dict[str, Any]]]:
        """``(obs, info)`` of resetting each env in ``indices`` with its seed (and options, one per env).

        An env whose worker was restarted since its last step returns the reset the restart did (with
        its reseeded seed) when ``seed`` is ``None``.
        """
        results: dict[int, Any] = {}
        todo = {}
        option_of = dict(zip(indices, options if options is not None else [None] * len(indices), strict=True))
        for i, seed in zip(indices, seeds, strict=True):
            if seed is not None:
                self._seeds[i] = int(seed)
            if seed is None and option_of[i] is None and self._fresh[i] is not None:
                results[i] = self._fresh[i]
            else:
                todo[i] = seed
            self._fresh[i], self._cut[i] = None, False
        while todo:
            groups = self._by_worker(todo)
            calls = {
                w: (
                    "reset",
                    (
                        [i % self.envs_per_worker for i in idx],
                        [todo[i] for i in idx],
                        [option_of[i] for i in idx],
                    ),
                )
                for w, idx in groups.items()
            }
            out = self._submit(calls)
            for w, values in out.items():
                for i, value in zip(groups[w], values, strict=True):
                    results[i] = value
                    del todo[i]
            for i in todo:  # lost: the restart reset them; reset again with the seed asked for
                self._fresh[i], self._cut[i] = None, False
        for i, (obs, _) in results.items():
            self.last_obs[i] = obs
        return [results[i] for i in indices]

    def step(self, indices: Sequence[int], ops: Sequence[tuple[Any, ...]], autoreset: bool) -> list[Any]:
        """One op per env of ``indices`` (``("step", action)`` or ``("reset", seed, options)``), at once.

        See :meth:`EnvWorker.step` for the results. An env whose worker was lost returns
        ``(last_obs, 0.0, False, True, {"worker_restarted": True}, again)``: the episode is truncated,
        and ``again`` is the restart's reset (``None`` without ``autoreset``; the next reset returns it).
        """
        results: dict[int, Any] = {}
        send: list[int] = []
        op_of = dict(zip(indices, ops, strict=True))
        for i, op in op_of.items():
            if op[0] == "reset":
                if op[1] is not None:
                    self._seeds[i] = int(op[1])
                if op[1] is None and op[2] is None and self._fresh[i] is not None:
                    results[i] = self._fresh[i]
                    self._fresh[i], self._cut[i] = None, False
                    continue
                self._fresh[i], self._cut[i] = None, False
            elif self._cut[i]:
                continue  # cut below, without stepping the fresh env
            send.append(i)
        groups = self._by_worker(send)
        calls = {
            w: ("step", ([i % self.envs_per_worker for i in idx], [op_of[i] for i in idx], autoreset))
            for w, idx in groups.items()
        }
        out = self._submit(calls)
        for w, values in out.items():
            results.update(zip(groups[w], values, strict=True))
        for i, op in op_of.items():
            if i in results:
                continue
            if op[0] == "reset":  # lost while resetting: reset on the restarted worker
                results[i] = self.reset([i], [op[1]], [op[2]])[0]
                continue
            # the worker was lost in this step or before it: cut the episode like a time limit does
            again = None
            if autoreset:
                again, self._fresh[i] = self._fresh[i], None
            self._cut[i] = False
            results[i] = (self.last_obs[i], 0.0, False, True, {"worker_restarted": True}, again)
        for i, result in results.items():
            if len(result) == 2:
                self.last_obs[i] = result[0]
            else:
                self.last_obs[i] = result[5][0] if result[5] is not None else result[0]
        return [results[i] for i in indices]

    def step_one(self, index: int, action: Any) -> Any:
        """:meth:`step` of one env, without autoreset."""
        return self.step([index], [("step", action)], autoreset=False)[0]

    def call(self, indices: Sequence[int], name: str, *args: Any, **kwargs: Any) -> list[Any]:
        """``env.get_wrapper_attr(name)`` of each env, called with the arguments when callable.

        A call that loses a worker is repeated on the restarted one (its envs were reset).
        """
        return self._per_env(indices, "call", name, args, kwargs)

    def get_attr(self, indices: Sequence[int], name: str) -> list[Any]:
        """``env.get_wrapper_attr(name)`` of each env, as it is (repeated on a restarted worker)."""
        return self._per_env(indices, "get_attr", name)

    def is_wrapped(self, indices: Sequence[int], wrapper_class: type) -> list[bool]:
        """Whether each env's wrapper chain holds a ``wrapper_class``."""
        return self._per_env(indices, "is_wrapped", wrapper_class)

    def _per_env(self, indices: Sequence[int], method: str, *args: Any) -> list[Any]:
        results: dict[int, Any] = {}
        todo = list(indices)
        while todo:
            groups = self._by_worker(todo)
            calls = {
                w: (method, ([i % self.envs_per_worker for i in idx], *args)) for w, idx in groups.items()
            }
            for w, values in self._submit(calls).items():
                results.update(zip(groups[w], values, strict=True))
            todo = [i for i in todo if i not in results]
        return [results[i] for i in indices]

    def set_attr(self, indices: Sequence[int], name: str, values: Sequence[Any]) -> None:
        """``env.set_wrapper_attr(name, value)`` on each env (repeated on a restarted worker)."""
        todo = dict(zip(indices, values, strict=True))
        while todo:
            groups = self._by_worker(todo)
            calls = {
                w: ("set_attr", ([i % self.envs_per_worker for i in idx], name, [todo[i] for i in idx]))
                for w, idx in groups.items()
            }
            for w in self._submit(calls):
                for i in groups[w]:
                    del todo[i]

    def handle(self, index: int) -> RemoteEnv:
        """Env ``index`` as a single ``gym.Env`` (see :class:`RemoteEnv`)."""
        return RemoteEnv(self, check_int("index", index, 0, self.num_envs - 1))

    def map_episodes(
        self, fn: Callable[[RemoteEnv, int, I], T], items: Iterable[I]
    ) -> Generator[T, None, None]:
        """``fn(env, slot, item)`` for each item, on all envs at once; results in the order of ``items``.

        Each call runs in a driver thread on the env ``slot`` (``0 .. num_envs - 1``; one call per env at
        a time, so per-slot state such as an agent copy is safe). A call that loses its worker is rerun
        from the start on the restarted env, so ``fn`` must reset the env with a seed first. Closing the
        iterator early (``break``) cancels the calls not yet started and waits for the running ones.

        Raises:
            EnvWorkerError: an item failed ``max_restarts + 1`` times.
        """
        handles = [self.handle(i) for i in range(self.num_envs)]
        free: deque[int] = deque(range(self.num_envs))
        free_lock = threading.Lock()

        def run(item: I) -> T:
            with free_lock:
                slot = free.popleft()
            try:
                for attempt in range(self.max_restarts + 1):
                    try:
                        return fn(handles[slot], slot, item)
                    except WorkerRestartedError:
                        logger.warning(
                            "rerunning an episode after a worker restart (attempt %d)", attempt + 2
                        )
                raise EnvWorkerError(
                    f"an episode failed {self.max_restarts + 1} times on restarted workers; giving up."
                )
            finally:
                with free_lock:
                    free.append(slot)

        window = self.num_envs
        pending: deque[Future[T]] = deque()
        with ThreadPoolExecutor(max_workers=self.num_envs, thread_name_prefix="rlft-ray-env") as pool:
            try:
                for item in items:
                    pending.append(pool.submit(run, item))
                    if len(pending) >= window:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def close(self) -> None:
        """Close every env and end the worker processes (idempotent)."""
        if self._closed:
            return
        ray = _ray()
        from ray.exceptions import RayError

        self._closed = True
        if (
            not ray.is_initialized()
        ):  # Ray already ended (its workers with it); a remote call would restart it
            return
        refs = [worker.close.remote() for worker in self._workers]
        with contextlib.suppress(RayError):  # a dead worker has nothing left to close
            ray.wait(refs, num_returns=len(refs), timeout=min(self.timeout_s, 30.0))
        for worker in self._workers:
            ray.kill(worker, no_restart=True)
        if self._started_ray:
            ray.shutdown()


class RemoteEnv(gym.Env):
    """One env of a :class:`RayEnvPool` as a plain ``gym.Env``: every call goes to its worker.

    ``reset``, ``step``, ``render`` and ``expert_action`` (rlft's privileged solver) run remotely; the
    spaces are local copies (the action space is this handle's own, so seeding it stays per env).
    ``close`` is the pool's job. A call that loses the worker raises :class:`WorkerRestartedError`.
    """

    def __init__(self, pool: RayEnvPool, index: int) -> None:
        self._pool = pool
        self.index = index
        self.observation_space = pool.observation_space
        self.action_space = copy.deepcopy(pool.action_space)
        self.metadata = pool.metadata
        self.render_mode = pool.render_mode
        self.spec = pool.spec

    def _check(self) -> None:
        if self._pool._cut[self.index]:
            self._pool._cut[self.index] = False
            raise WorkerRestartedError(f"the worker of env {self.index} was restarted mid-episode")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Reset the remote env."""
        return self._pool.reset([self.index], [seed], [options])[0]

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Step the remote env (no autoreset)."""
        self._check()
        obs, reward, terminated, truncated, info, _ = self._pool.step_one(self.index, action)
        if info.get("worker_restarted"):
            raise WorkerRestartedError(f"the worker of env {self.index} was restarted mid-episode")
        return obs, reward, terminated, truncated, info

    def render(self) -> Any:
        """The remote env's ``render()``."""
        return self.call("render")

    def expert_action(self) -> Any:
        """The remote env's privileged solver's next action."""
        self._check()
        return self.call("expert_action")

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``env.get_wrapper_attr(name)`` remotely, called with the arguments when callable."""
        return self._pool.call([self.index], name, *args, **kwargs)[0]


class RayVectorEnv(VectorEnv):
    """A Gymnasium ``VectorEnv`` on Ray actors that behaves like ``SyncVectorEnv`` (next-step autoreset).

    Args:
        env_fns: one factory per env, as for ``SyncVectorEnv``.
        envs_per_worker: envs each Ray actor hosts.
        copy: return copies of the batched observations.
        autoreset_mode: only ``next_step`` (Gymnasium's default).
        pool_kwargs: :class:`RayEnvPool` options (``worker_options``, ``timeout_s``, ``max_restarts``).

    An env whose worker is lost mid-step reports ``truncated`` with its last observation and
    ``info["worker_restarted"]``; the next step resets it (see the module docstring).
    """

    def __init__(
        self,
        env_fns: Sequence[EnvFn],
        envs_per_worker: int = 1,
        *,
        copy: bool = True,
        autoreset_mode: str | AutoresetMode = AutoresetMode.NEXT_STEP,
        **pool_kwargs: Any,
    ) -> None:
        mode = autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else AutoresetMode(autoreset_mode)
        if mode != AutoresetMode.NEXT_STEP:
            raise ConfigError("RayVectorEnv supports autoreset_mode='next_step' only.")
        self.pool = RayEnvPool(env_fns, envs_per_worker, **pool_kwargs)
        self.copy = copy
        self.autoreset_mode = mode
        self.num_envs = self.pool.num_envs
        self.metadata = dict(self.pool.metadata)
        self.metadata["autoreset_mode"] = mode
        self.render_mode = self.pool.render_mode
        self.single_observation_space = self.pool.observation_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.single_action_space = self.pool.action_space
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._env_obs: list[Any] = [None] * self.num_envs
        self._observations: Any = create_empty_array(
            self.single_observation_space, n=self.num_envs, fn=np.zeros
        )
        self._rewards = np.zeros((self.num_envs,), dtype=np.float64)
        self._terminations = np.zeros((self.num_envs,), dtype=np.bool_)
        self._truncations = np.zeros((self.num_envs,), dtype=np.bool_)
        self._autoreset_envs = np.zeros((self.num_envs,), dtype=np.bool_)

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the envs (all, or ``options["reset_mask"]``); an int seed gives env ``i`` ``seed + i``."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int):
            seeds = [seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ConfigError(f"Pass {self.num_envs} seeds (one per env), or one int; got {len(seeds)}.")
        options = dict(options) if options is not None else None
        mask = options.pop("reset_mask", None) if options is not None else None
        if mask is None:
            indices = list(range(self.num_envs))
        else:
            mask = np.asarray(mask, dtype=np.bool_)
            if mask.shape != (self.num_envs,) or not mask.any():
                raise ConfigError(
                    f"options['reset_mask'] must be {self.num_envs} booleans, at least one true."
                )
            indices = [int(i) for i in np.flatnonzero(mask)]
        results = self.pool.reset(indices, [seeds[i] for i in indices], [options or None] * len(indices))
        infos: dict[str, Any] = {}
        for i, (obs, info) in zip(indices, results, strict=True):
            self._env_obs[i] = obs
            self._terminations[i] = self._truncations[i] = self._autoreset_envs[i] = False
            infos = self._add_info(infos, info, i)
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        return (copy.deepcopy(self._observations) if self.copy else self._observations), infos

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env (resetting those whose episode ended at the previous step)."""
        ops: list[tuple[Any, ...]] = [
            ("reset", None, None) if self._autoreset_envs[i] else ("step", action)
            for i, action in enumerate(iterate(self.action_space, actions))
        ]
        results = self.pool.step(range(self.num_envs), ops, autoreset=False)
        infos: dict[str, Any] = {}
        for i, result in enumerate(results):
            if ops[i][0] == "reset":
                self._env_obs[i], info = result
                self._rewards[i], self._terminations[i], self._truncations[i] = 0.0, False, False
            else:
                obs, reward, terminated, truncated, info, _ = result
                self._env_obs[i] = obs
                self._rewards[i], self._terminations[i], self._truncations[i] = reward, terminated, truncated
            infos = self._add_info(infos, info, i)
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        self._autoreset_envs = np.logical_or(self._terminations, self._truncations)
        return (
            copy.deepcopy(self._observations) if self.copy else self._observations,
            np.copy(self._rewards),
            np.copy(self._terminations),
            np.copy(self._truncations),
            infos,
        )

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """``get_wrapper_attr(name)`` of every env, called with the arguments when callable."""
        return tuple(self.pool.call(range(self.num_envs), name, *args, **kwargs))

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """The attribute ``name`` of every env."""
        return tuple(self.pool.get_attr(range(self.num_envs), name))

    def set_attr(self, name: str, values: Any) -> None:
        """Set ``name`` on every env (one value for all, or one per env)."""
        if not isinstance(values, list | tuple):
            values = [values] * self.num_envs
        if len(values) != self.num_envs:
            raise ConfigError(f"Pass one value or {self.num_envs} values to set_attr; got {len(values)}.")
        self.pool.set_attr(list(range(self.num_envs)), name, list(values))

    def render(self) -> tuple[Any, ...] | None:
        """Every env's ``render()``."""
        return self.call("render")

    def close_extras(self, **kwargs: Any) -> None:
        """End the Ray workers."""
        self.pool.close()


class RayTaskError(EnvWorkerError):
    """A :class:`RayExecutor` task was lost (its worker or node died more often than it may be retried)."""


class RayTaskTimeoutError(RayTaskError, TimeoutError):
    """A :class:`RayExecutor` task ran past the executor's ``timeout_s``; it was cancelled."""


def _run_task(fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], cwd: str | None) -> T:
    """The body of every :class:`RayExecutor` task: ``fn(*args, **kwargs)`` in ``cwd`` when it exists.

    A Ray task worker runs one task at a time, so changing its directory for the call is safe; relative
    paths then mean what they mean to the driver (on nodes that mount its directory at the same path).
    """
    if cwd is None or not os.path.isdir(cwd) or os.getcwd() == cwd:
        return fn(*args, **kwargs)
    before = os.getcwd()
    os.chdir(cwd)
    try:
        return fn(*args, **kwargs)
    finally:
        os.chdir(before)


def _largest_node(ray: Any) -> dict[str, float]:
    """CPU and GPU counts of the living node with the most of them (what one task can get at most)."""
    best = {"CPU": 0.0, "GPU": 0.0}
    for node in ray.nodes():
        if node.get("Alive"):
            res = node.get("Resources", {})
            cpus, gpus = float(res.get("CPU", 0.0)), float(res.get("GPU", 0.0))
            if (gpus, cpus) > (best["GPU"], best["CPU"]):
                best = {"CPU": cpus, "GPU": gpus}
    return best


class RayExecutor(Executor):
    """A :class:`concurrent.futures.Executor` whose calls run as Ray tasks with resource requests.

    ``submit(fn, *args)`` queues the call and returns a future at once; at most ``max_in_flight`` calls
    are Ray tasks at a time (the rest wait here, in submission order). Each task reserves ``num_cpus``
    CPUs and ``num_gpus`` GPUs of one node (Ray sets ``CUDA_VISIBLE_DEVICES`` to the task's GPUs, so
    ``cuda`` / ``auto`` in the task means its own GPU). ``fn`` must be importable on every node (a
    top-level function of an installed package).

    Failures: a task whose worker process or node dies is run again up to ``max_retries`` times (Ray's
    task retries); after that its future raises :class:`RayTaskError`. An exception ``fn`` raises is
    not retried and reaches the future as it is (unwrapped from Ray's ``RayTaskError``). A task still
    unfinished ``timeout_s`` seconds after it was sent to Ray (waiting for resources included) is
    cancelled (its worker is killed) and its future raises :class:`RayTaskTimeoutError`, so a caller
    waiting on the futures never hangs. Requests that no living node can meet raise
    :class:`rlft.errors.ConfigError` here instead of waiting for a node that never comes.

    Args:
        num_cpus: CPUs each task reserves (fractions allowed; 0 for none).
        num_gpus: GPUs each task reserves (fractions share a GPU).
        max_retries: reruns of a task whose worker died.
        max_in_flight: Ray tasks at a time (``None``: no limit here; the cluster's resources still are).
        timeout_s: longest time from a task's start on Ray to its result (``None``: no limit).
        address: where to connect when Ray is not connected yet (see :func:`init_ray`); an executor that
            connected shuts Ray down on :meth:`shutdown`.
        working_dir: current directory of each call (default: this process's), where it exists.

    Raises:
        DependencyError: Ray is not installed.
        ConfigError: invalid settings, or resources no node of the cluster has.
    """

    def __init__(
        self,
        *,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        max_retries: int = 2,
        max_in_flight: int | None = None,
        timeout_s: float | None = None,
        address: str | None = None,
        working_dir: str | None = "",
    ) -> None:
        ray = _ray()
        self.num_cpus = check_float("num_cpus", num_cpus, 0.0)
        self.num_gpus = check_float("num_gpus", num_gpus, 0.0)
        self.max_retries = check_int("max_retries", max_retries, 0)
        self.max_in_flight = None if max_in_flight is None else check_int("max_in_flight", max_in_flight)
        if timeout_s is not None and check_float("timeout_s", timeout_s, 0.0) <= 0:
            raise ConfigError(f"timeout_s must be > 0 seconds (or None); got {timeout_s}.")
        self.timeout_s = timeout_s
        self.working_dir = os.getcwd() if working_dir == "" else working_dir
        self._started_ray = init_ray(address)
        try:
            largest = _largest_node(ray)
            if self.num_cpus > largest["CPU"] or self.num_gpus > largest["GPU"]:
                raise ConfigError(
                    f"Each task asks for {self.num_cpus:g} CPUs and {self.num_gpus:g} GPUs, but the largest "
                    f"node of the Ray cluster has {largest['CPU']:g} CPUs and {largest['GPU']:g} GPUs: lower "
                    "the request (--cell-cpus / --cell-gpus) or add a node that has them."
                )
        except BaseException:
            if self._started_ray:
                ray.shutdown()
            raise
        self._remote = ray.remote(_run_task).options(
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,
        )
        self._lock = threading.RLock()
        self._queue: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = deque()
        self._running: dict[Any, tuple[Future[Any], threading.Timer | None]] = {}
        self._closed = False

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` as a Ray task; its future holds the result or the exception.

        Raises:
            RuntimeError: the executor was shut down.
        """
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            self._queue.append((future, fn, args, kwargs))
            self._launch()
        return future

    def _launch(self) -> None:
        """Send queued calls to Ray while there is room (call with the lock held)."""
        while self._queue and (self.max_in_flight is None or len(self._running) < self.max_in_flight):
            future, fn, args, kwargs = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            ref = self._remote.remote(fn, args, kwargs, self.working_dir)
            timer = None
            if self.timeout_s is not None:
                timer = threading.Timer(self.timeout_s, self._expire, (ref,))
                timer.daemon = True
                timer.start()
            self._running[ref] = (future, timer)
            ref.future().add_done_callback(lambda done, ref=ref: self._finish(ref, done))

    def _take(self, ref: Any) -> Future[Any] | None:
        """Remove ``ref`` from the running tasks and start the next queued one; its future, if still open."""
        with self._lock:
            entry = self._running.pop(ref, None)
            if entry is None:
                return None
            future, timer = entry
            if timer is not None:
                timer.cancel()
            self._launch()
            return future

    def _finish(self, ref: Any, done: Future[Any]) -> None:
        from ray.exceptions import RayTaskError as RemoteError

        future = self._take(ref)
        if future is None:
            return
        try:
            future.set_result(done.result())
        except RemoteError as err:  # fn raised: hand over its own exception
            cause = getattr(err, "cause", None)
            future.set_exception(cause if isinstance(cause, BaseException) else err)
        except Exception as err:  # the worker or its node died more often than max_retries
            failure = RayTaskError(
                f"A Ray task was lost {self.max_retries + 1} time(s) (its worker process or node died; "
                f"{type(err).__name__}: {err}). Check the nodes' memory and logs, or raise the retries."
            )
            failure.__cause__ = err
            future.set_exception(failure)

    def _expire(self, ref: Any) -> None:
        future = self._take(ref)
        if future is None:
            return
        with contextlib.suppress(Exception):
            _ray().cancel(ref, force=True)
        future.set_exception(
            RayTaskTimeoutError(
                f"A Ray task ran past {self.timeout_s:g} s and was cancelled: raise the time limit "
                "(--cell-timeout), or check that the cluster has free resources for the task."
            )
        )

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; with ``cancel_futures`` drop queued calls and cancel running tasks.

        With ``wait``, return once every remaining call finished. An executor that connected to Ray
        shuts Ray down last (ending its worker processes).
        """
        with self._lock:
            self._closed = True
            if cancel_futures:
                for queued, *_ in self._queue:
                    queued.cancel()
                self._queue.clear()
                running = list(self._running)
            else:
                running = []
        for ref in running:
            taken = self._take(ref)
            with contextlib.suppress(Exception):
                _ray().cancel(ref, force=True)
            if taken is not None:
                taken.set_exception(RayTaskError("The Ray task was cancelled: its executor shut down."))
        if wait:
            while True:
                with self._lock:
                    left = [f for f, *_ in self._queue] + [f for f, _ in self._running.values()]
                if not left:
                    break
                wait_futures(left)
        if self._started_ray and _ray().is_initialized():
            _ray().shutdown()
            self._started_ray = False
