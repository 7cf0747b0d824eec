"""Plain-words answers to "why does it run there?" and "why does it not run?".

Read from a DecisionTrace the scheduler filled while it decided: every cause named here is
one the scheduler recorded (a score it added, a node it ruled out, an action an ordering
blocked), never re-derived from the configuration afterwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from defib.errors import CommandError
from defib.explain.trace import ActionFacts, Contribution, DecisionTrace, Placement
from defib.model.cib import Cib
from defib.model.scores import INFINITY

MAX_CHAIN = 12  # an ordering chain longer than this is cut short (and says so)


@dataclass
class Cause:
    kind: str  # location, stickiness, fail-count, standby, quorum, order, ...
    text: str
    node: str | None = None
    depth: int = 0  # nesting in a chain: 1 = the cause of the cause, ...


@dataclass
class Explanation:
    rsc: str
    summary: str
    causes: list[Cause] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        return {c.kind for c in self.causes}

    def text(self) -> str:
        lines = [self.summary]
        for cause in self.causes:
            lines.append("  " + "  " * cause.depth + "- " + cause.text)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"resource": self.rsc, "summary": self.summary,
                "causes": [{"kind": c.kind, "text": c.text, "node": c.node, "depth": c.depth}
                           for c in self.causes]}


def trace_schedule(cib: Cib, now: dt.datetime | None) -> DecisionTrace:
    from defib.scheduler import schedule

    trace = DecisionTrace()
    schedule(cib, now, trace=trace)
    return trace


def explain(trace: DecisionTrace, rsc_id: str, node: str | None = None) -> list[Explanation]:
    prims = trace.instances(rsc_id)
    if not prims and rsc_id in trace.resources:
        kind = trace.resources[rsc_id].kind
        return [Explanation(rsc_id, f"{rsc_id} is a {kind} without any instance or member "
                                    "(clone-max=0, or empty): nothing of it can run.")]
    if not prims:
        known = sorted({r.split(":", 1)[0] for r in trace.resources})
        raise CommandError(f"no resource {rsc_id!r} (known: {', '.join(known) or 'none'})",
                           rsc_id)
    if node is not None and node not in trace.nodes:
        raise CommandError(f"no node {node!r} (known: {', '.join(sorted(trace.nodes))})", node)
    return [_Explainer(trace, node).primitive(p) for p in prims]


def fmt_score(score: int) -> str:
    if score >= INFINITY:
        return "+INFINITY"
    if score <= -INFINITY:
        return "-INFINITY"
    return f"{score:+d}" if score else "0"


class _Explainer:
    def __init__(self, trace: DecisionTrace, node: str | None) -> None:
        self.t = trace
        self.node = node
        self.level = 0  # how deep in a chain this explainer works (bounds recursion)

    # -- one primitive ------------------------------------------------------------------

    def primitive(self, rsc: str) -> Explanation:
        facts = self.t.resources[rsc]
        where = ", ".join(facts.running_on)
        now = f"runs on {where}" if facts.running_on else "is stopped"
        if facts.failed:
            now += " (failed)"
        out = Explanation(rsc, "")
        out.causes += self._resource_state(rsc)
        placement = self.t.placements.get(rsc)
        verdict = self._verdict(rsc, placement, out)
        out.summary = f"{rsc} ({facts.agent}) {now}; {verdict}."
        if placement is not None and placement.why == "best":
            out.causes += self._nodes(rsc, placement)
        if not self.t.quorum and "quorum" not in out.kinds:
            out.causes.append(Cause("quorum", "the partition has no quorum "
                                    f"(no-quorum-policy={self.t.options['no-quorum-policy']})"))
        out.causes = _once(out.causes)
        return out

    def _verdict(self, rsc: str, placement: Placement | None, out: Explanation) -> str:
        facts = self.t.resources[rsc]
        actions = self.t.actions_of(rsc)
        start = next((a for a in actions if a.task == "start" and not a.optional), None)
        if start is not None and not start.runnable:
            out.causes += self._why_unrunnable(start, 0, set())
            return f"it should start on {start.node} but cannot"
        if placement is None or placement.node is None:
            if placement is not None:
                out.causes += self._unplaced(rsc, placement)
            return "it will not run anywhere" if not facts.running_on else (
                "it will be stopped")
        target = placement.node
        if placement.why in ("unmanaged", "no-fence-device"):
            out.causes += self._unmanaged(rsc, placement.why)
            return f"it is left as it is on {target} (not managed)"
        if start is not None and facts.running_on and target not in facts.running_on:
            verdict = f"it will move to {target}"
        elif start is not None and target in facts.running_on:
            because = f" ({start.reason})" if start.reason else ""
            verdict = f"it will be restarted on {target}{because}"
        elif start is not None:
            verdict = f"it will {'be recovered' if facts.failed else 'start'} on {target}"
        else:
            verdict = f"it stays on {target}"
        return verdict + self._role_change(actions, out)

    def _role_change(self, actions: list[ActionFacts], out: Explanation) -> str:
        """A promotable clone's instance: promoted or demoted as well (or why it cannot)."""
        for task, word in (("promote", "promoted"), ("demote", "demoted")):
            action = next((a for a in actions if a.task == task and not a.optional), None)
            if action is None:
                continue
            if not action.runnable:
                out.causes += self._why_unrunnable(action, 0, set())
                return f", and should be {word} on {action.node} but cannot"
            return f", and {word} on {action.node}"
        return ""

    def _resource_state(self, rsc: str) -> list[Cause]:
        facts = self.t.resources[rsc]
        out: list[Cause] = []
        for node, count in sorted(facts.fail_counts.items()):
            threshold = facts.migration_threshold
            if 0 < threshold <= count:
                continue  # the ban it caused is named with the node
            limit = (f"migration-threshold={threshold}" if threshold < 1_000_000 else
                     "no migration-threshold")
            out.append(Cause("fail-count", f"it failed {count} time(s) on {node} ({limit}); "
                             "`defib resource cleanup` forgets it", node))
        return out

    def _unplaced(self, rsc: str, placement: Placement) -> list[Cause]:
        why = placement.why
        if why == "stopped":
            owner = self._meta_owner(rsc, "target-role")
            if owner is not None:
                return [Cause("target-role", f"target-role=Stopped is set on {owner}"
                              f" (`defib resource start {owner}` clears it)")]
            return [Cause("stop-all", "the cluster option stop-all-resources is true")]
        if why in ("unmanaged", "no-fence-device"):
            return self._unmanaged(rsc, why)
        causes = []
        if not any(self._node_usable(n) for n in self.t.nodes):
            causes.append(Cause("nodes", "no node can run resources at all"))
        return causes

    def _unmanaged(self, rsc: str, why: str) -> list[Cause]:
        if why == "no-fence-device":
            return [Cause("fencing", "stonith-enabled is true but no fence device is "
                          "configured: nothing is managed until one is")]
        facts = self.t.resources[rsc]
        owner = self._meta_owner(rsc, "is-managed")
        if owner is not None:
            return [Cause("is-managed", f"is-managed=false is set on {owner}: defib neither "
                          "starts nor stops it")]
        if self.t.options["maintenance-mode"] == "true":
            return [Cause("maintenance", "the cluster is in maintenance-mode: nothing is "
                          "started or stopped")]
        owner = self._meta_owner(rsc, "maintenance")
        if owner is not None:
            return [Cause("maintenance", f"maintenance=true is set on {owner}")]
        for node in facts.running_on:
            if self.t.nodes[node].maintenance:
                return [Cause("maintenance", f"{node} is in maintenance: what runs there is "
                              "left alone", node)]
        return [Cause("is-managed", "it is not managed")]

    def _meta_owner(self, rsc: str, name: str) -> str | None:
        # Members inherit their parent's meta attributes: name the outermost that sets it.
        owner = None
        current: str | None = rsc
        while current is not None:
            facts = self.t.resources.get(current)
            if facts is None:
                break
            value = facts.meta.get(name, "").lower()
            if ((name == "target-role" and value == "stopped")
                    or (name == "is-managed" and value in ("false", "no", "0", "off"))
                    or (name == "maintenance" and value in ("true", "yes", "1", "on"))):
                owner = current.split(":", 1)[0]
            current = facts.parent
        return owner

    # -- nodes ----------------------------------------------------------------------------

    def _node_usable(self, name: str) -> bool:
        n = self.t.nodes[name]
        return (n.online and not n.unclean and not n.standby and not n.maintenance
                and not n.shutdown and not n.pending)

    def _node_state(self, name: str) -> Cause | None:
        n = self.t.nodes[name]
        if n.unclean:
            reason = f" ({n.fence_reason})" if n.fence_reason else ""
            failed = self.t.fence_failures.get(name)
            tail = f"; its fencing has failed: {failed}" if failed else ""
            return Cause("fencing", f"{name} is UNCLEAN{reason}: it must be fenced before "
                         f"anything runs there or leaves it{tail}", name)
        if not n.online:
            return Cause("offline", f"{name} is offline", name)
        for kind, flag in (("standby", n.standby), ("maintenance", n.maintenance),
                           ("shutdown", n.shutdown), ("pending", n.pending)):
            if flag:
                text = {"standby": f"{name} is in standby",
                        "maintenance": f"{name} is in maintenance",
                        "shutdown": f"{name} is shutting down",
                        "pending": f"{name} is still joining"}[kind]
                return Cause(kind, text, name)
        return None

    def _nodes(self, rsc: str, placement: Placement) -> list[Cause]:
        names = [self.node] if self.node else sorted(self.t.nodes)
        chosen = placement.node
        best = placement.scores.get(chosen) if chosen else None
        out: list[Cause] = []
        for name in names:
            mine = self._contributions(rsc, name)
            if name == chosen:
                for c in mine:
                    if c.score > 0:
                        out.append(self._describe(c))
                out.append(Cause("score", f"{name} has the best score, "
                                 f"{fmt_score(best or 0)}", name))
                continue
            state = self._node_state(name)
            if state is not None:
                out.append(state)
                continue
            score = placement.scores.get(name)
            if score is None:
                out.append(Cause("location", f"no location constraint allows it on {name} "
                                 "(symmetric-cluster=false)", name))
                continue
            against = [c for c in mine if c.score < 0 or c.score <= -INFINITY]
            for c in against:
                out += self._expand(self._describe(c), c)
            if name in placement.no_room:
                out.append(Cause("utilization", f"{name} has not enough capacity left for "
                                 "it (utilization)", name))
            elif score >= 0 and best is not None and not against:
                out.append(Cause("score", f"{name} scores {fmt_score(score)}, not better "
                                 f"than {chosen}'s {fmt_score(best)}", name))
            elif score >= 0 and best is None and chosen is None and not against:
                out.append(Cause("score", f"{name} would be allowed (score "
                                 f"{fmt_score(score)})", name))
        return out

    def _contributions(self, rsc: str, node: str) -> list[Contribution]:
        out: list[Contribution] = []
        current: str | None = rsc
        while current is not None:
            out += [c for c in self.t.contributions.get(current, []) if c.node == node]
            facts = self.t.resources.get(current)
            current = facts.parent if facts is not None else None
        return out

    def _describe(self, c: Contribution) -> Cause:
        score = fmt_score(c.score)
        banned = c.score <= -INFINITY
        if c.cause == "location":
            verb = "bans it from" if banned else "gives"
            tail = "" if banned else f" {score}"
            return Cause("location", f"location constraint {c.source} {verb} {c.node}{tail}",
                         c.node)
        if c.cause == "stickiness":
            return Cause("stickiness", f"resource-stickiness keeps it on {c.node}, where it "
                         f"runs ({score})", c.node)
        if c.cause == "fail-count":
            count, threshold = c.source.split("/")
            if banned:
                return Cause("migration-threshold", f"it failed {count} time(s) on {c.node}, "
                             f"reaching migration-threshold={threshold}: banned there until "
                             "the failures expire or `defib resource cleanup`", c.node)
            return Cause("fail-count", f"{count} failure(s) on {c.node} "
                         f"(migration-threshold={threshold})", c.node)
        if c.cause == "hard-error":
            return Cause("fail-count", f"a hard error on {c.node} (the agent said it "
                         "cannot run there) bans it until a cleanup", c.node)
        if c.cause in ("colocation", "dependents"):
            colo, other = c.source.split("|", 1)
            return self._colocation(c, colo, other)
        if c.cause == "ticket":
            return Cause("ticket", f"ticket {c.source}: it may not run on {c.node}", c.node)
        if c.cause == "health":
            attrs = ", ".join(f"{k}={v}" for k, v in
                              sorted(self.t.nodes[c.node].health.items()))
            return Cause("health", f"node health ({attrs}, node-health-strategy="
                         f"{c.source}) scores {c.node} {score}", c.node)
        if c.cause == "discovery":
            return Cause("discovery", f"resource-discovery=exclusive elsewhere: it may run "
                         f"only where it may be discovered, not on {c.node}", c.node)
        if c.cause == "utilization":
            return Cause("utilization", f"{c.node} cannot take it together with {c.source}",
                         c.node)
        return Cause(c.cause, f"{c.cause} {c.source} scores {c.node} {score}", c.node)

    def _colocation(self, c: Contribution, colo: str, other: str) -> Cause:
        if c.cause == "dependents":
            return Cause("colocation", f"{other}, which must run with it ({colo}), scores "
                         f"{c.node} {fmt_score(c.score)}", c.node)
        where = self._where(other)
        if c.score <= -INFINITY:
            if where is None:
                text = f"it must run with {other} ({colo}), which cannot run"
            else:
                text = f"it must run with {other} ({colo}), which will be on {where}"
        else:
            text = f"colocation {colo} with {other} scores {c.node} {fmt_score(c.score)}"
        return Cause("colocation", text, c.node)

    def _where(self, rsc: str) -> str | None:
        nodes = [p.node for r in self.t.instances(rsc)
                 if (p := self.t.placements.get(r)) is not None and p.node is not None]
        return ", ".join(sorted(set(nodes))) or None

    # -- blocked actions ------------------------------------------------------------------

    def _why_unrunnable(self, action: ActionFacts, depth: int, seen: set[str]) -> list[Cause]:
        key = action.label()
        if key in seen or depth > MAX_CHAIN:
            return [Cause("order", "(the chain goes on; cut short here)", depth=depth)]
        seen.add(key)
        if action.reason in ("no quorum", "quorum freeze"):
            return [Cause("quorum", f"the partition has no quorum: {action.label()} waits "
                          f"for it (no-quorum-policy={self.t.options['no-quorum-policy']})",
                          action.node, depth)]
        if action.task == "stop" and action.node and self.t.nodes[action.node].unclean:
            failed = self.t.fence_failures.get(action.node)
            why = f"it failed: {failed}" if failed else "that fencing cannot run now"
            return [Cause("fencing", f"{action.label()} waits for {action.node} to be fenced,"
                          f" and {why}", action.node, depth)]
        if action.task == "stonith":
            return [Cause("fencing", f"fencing of {action.node} cannot run now",
                          action.node, depth)]
        block = self.t.block_of(action)
        if block is None:
            return self._unplaced_chain(action, depth)
        first = block.first
        # Pseudo actions of groups and clones are links of the chain, not causes to name.
        if first.pseudo and first.rsc is not None and self.t.resources.get(
                first.rsc, None) is not None and self.t.resources[first.rsc].kind != "primitive":
            return self._why_unrunnable(first, depth, seen)
        if first.rsc == action.rsc:
            return self._why_unrunnable(first, depth, seen)
        verb = ("is colocated with" if block.rule == "colocated"
                else "is ordered after")
        out = [Cause("order", f"{action.label()} {verb} {first.label()}, which cannot "
                     "happen", action.node, depth)]
        return out + self._why_unrunnable(first, depth + 1, seen)

    def _unplaced_chain(self, action: ActionFacts, depth: int) -> list[Cause]:
        rsc = action.rsc
        if rsc is None or rsc not in self.t.resources:
            return []
        return self._nowhere(rsc, "order", depth)

    def _nowhere(self, rsc: str, kind: str, depth: int) -> list[Cause]:
        """Why ``rsc`` (or the first of its instances that has no node) runs nowhere."""
        if self.level + depth > MAX_CHAIN:
            return [Cause(kind, "(the chain goes on; cut short here)", depth=depth)]
        for prim in self.t.instances(rsc):
            placement = self.t.placements.get(prim)
            if placement is None or placement.node is not None:
                continue
            sub = _Explainer(self.t, None)
            sub.level = self.level + depth + 1
            causes = sub._resource_state(prim) + sub._unplaced(prim, placement)
            causes += [c for c in sub._nodes(prim, placement) if c.kind != "score"]
            return [Cause(kind, f"{prim} cannot run anywhere:", None, depth)] + [
                Cause(c.kind, c.text, c.node, c.depth + depth + 1) for c in causes]
        return []

    def _expand(self, cause: Cause, c: Contribution) -> list[Cause]:
        """A colocation with a resource that cannot run: and why that one cannot."""
        if c.cause != "colocation" or c.score > -INFINITY or "which cannot run" not in \
                cause.text:
            return [cause]
        other = c.source.split("|", 1)[1]
        return [cause] + self._nowhere(other, "colocation", cause.depth + 1)


def _once(causes: list[Cause]) -> list[Cause]:
    """The same words for several nodes are said once."""
    unique: list[Cause] = []
    seen: set[tuple[str, int]] = set()
    for cause in causes:
        if (cause.text, cause.depth) not in seen:
            seen.add((cause.text, cause.depth))
            unique.append(cause)
    return unique
