"""``ticket``: grant, revoke, standby and activate tickets, list them, as crm_ticket does
(multi-site clusters: resources bound to a ticket by ``rsc_ticket`` run only where it is
granted and not in standby)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from defib.commands.cibtree import did_you_mean, find_resource, primitive_ids
from defib.commands.danger import Danger, danger, running
from defib.commands.env import CommandEnv
from defib.commands.result import Result, done, shown
from defib.errors import CommandError, UnknownReferenceError


def _known(root: ET.Element) -> set[str]:
    names = {el.get("ticket", "") for el in root.iter("rsc_ticket") if el.get("ticket")}
    return names | {el.get("id", "") for el in root.iterfind("status/tickets/ticket_state")}


def _check(root: ET.Element, ticket: str, new: bool) -> None:
    """A ticket no constraint names and no state records is most likely a typo; granting
    one is allowed (a ticket may be granted before its constraints exist)."""
    if not ticket or any(c.isspace() for c in ticket):
        raise CommandError(f"invalid ticket name {ticket!r}", ticket, code="invalid-id")
    known = _known(root)
    if not new and ticket not in known:
        raise CommandError(f"no ticket {ticket!r} (tickets: {', '.join(sorted(known)) or 'none'})"
                           + did_you_mean(ticket, sorted(known)), ticket, code="unknown-id")


def listing(env: CommandEnv) -> Result:
    from defib.commands.status import resource_status

    tickets = resource_status(env).tickets()
    lines = [f"{t['id']}\t{t['status']}" + (" standby" if t["standby"] == "true" else "")
             for t in tickets]
    return shown(lines or ["no tickets"], {"tickets": tickets})


def _change(env: CommandEnv, ticket: str, attrs: dict[str, str | None], code: str,
            what: str, new: bool = False) -> Result:
    root = ET.fromstring(env.read())
    _check(root, ticket, new)
    before = next((t.attrib.copy() for t in root.iterfind("status/tickets/ticket_state")
                   if t.get("id") == ticket), {})
    changed = any(before.get(k) != v for k, v in attrs.items() if k != "last-granted")
    if changed:
        env.set_ticket(ticket, attrs)
    return done(code, f"ticket {ticket}: {what}" + ("" if changed else " (already)"), ticket,
                changed=changed, data={"ticket": ticket, **{k: v for k, v in attrs.items()
                                                            if k != "last-granted"}})


def grant(env: CommandEnv, ticket: str) -> Result:
    return _change(env, ticket, {"granted": "true",
                                 "last-granted": str(int(env.now().timestamp()))},
                   "ticket-granted", "granted", new=True)


def revoke(env: CommandEnv, ticket: str) -> Result:
    return _change(env, ticket, {"granted": "false"}, "ticket-revoked", "revoked")


def standby(env: CommandEnv, ticket: str) -> Result:
    return _change(env, ticket, {"standby": "true"}, "ticket-standby", "in standby")


def activate(env: CommandEnv, ticket: str) -> Result:
    return _change(env, ticket, {"standby": "false"}, "ticket-activated", "active")


def dangers(env: CommandEnv, ticket: str) -> list[Danger]:
    """Revoking a ticket, or putting it in standby, stops what runs bound to it."""
    xml = env.read()
    root = ET.fromstring(xml)
    bound = sorted({el.get("rsc", "") for el in root.iter("rsc_ticket")
                    if el.get("ticket") == ticket})
    active = running(xml)
    hit = []
    for rsc in bound:
        try:
            prims = primitive_ids(find_resource(root, rsc))
        except UnknownReferenceError:
            continue  # a constraint naming nothing: nothing of it runs
        if any(p in active for p in prims):
            hit.append(rsc)
    if not hit:
        return []
    return [danger("ticket-stops-resources", f"this stops resources bound to ticket "
                   f"{ticket} that run now: {', '.join(hit)}", tuple(hit))]
