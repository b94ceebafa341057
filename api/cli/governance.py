"""The consortium's governance from the command line, over ``/consortium`` on any member's node:
``provledger consortium show|propose|vote|execute|pause|resume|close-founding``, ``consumer
add|remove|list``, ``auditor appoint|remove``, ``coordinator appoint|remove`` and
``service-account offer|remove|accept``.

Departments are named by code on the command line and shown by name and code (``市场监管局
(market-regulation)``), never as a bytes32 or a bitmask. Staff commands sign in as the other
staff commands do and wait for the chain's confirmation unless ``--no-wait``; the new service
account accepts its department itself, signing ``Consortium.acceptServiceAccount`` here and
sending it through the node's relay. Bad input exits 2 before anything is sent.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from api.cli.client import Api, CliError, signed_call
from api.cli.manage import follow, print_write
from api.cli.options import address, emit, hash32, node_command
from api.cli.signin import auditor_or_staff_sign_in, connect, signed_in_staff, wallet
from ledger.deploy import department_id
from node.chain.texts import checked
from node.departments import check_code_arg, check_name

if TYPE_CHECKING:
    from api.cli.options import SubCommands

VERB = {"admission": "admitting", "removal": "removing"}
"""What a proposal of each kind does, said of a department."""
SEEN = 30.0
"""Seconds a confirmed write may take to show in the node's view of the consortium (its index)."""


# ---------------------------------------------------------------- checks of what is typed


def _argument(check: Callable[[str], str]) -> Callable[[str], str]:
    """``check`` as an argparse type: its ValueError (an :class:`InvalidInput` among them) is the one line said."""

    def parse(value: str) -> str:
        try:
            return check(value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(getattr(err, "reason", str(err))) from None

    return parse


_name = _argument(check_name)


def _on_chain(field: str) -> Callable[[str], str]:
    """A text that goes on chain: not empty, not too long, no ID or mobile number in it."""
    return _argument(lambda value: checked(field, value.strip()))


# ---------------------------------------------------------------- how things are shown


def label(department: dict[str, Any] | None) -> str:
    """A department as people read it: ``市场监管局 (market-regulation)``."""
    if not department:
        return "no department"
    return f"{department['name']} ({department['code']})" if department.get("name") else str(department["code"])


def tally(proposal: dict[str, Any]) -> str:
    return f"{proposal['yes']} of {proposal['quorum']} needed"


def proposal_line(p: dict[str, Any]) -> str:
    voters = ", ".join(label(v) for v in p["voters"]) or "nobody yet"
    extra = ""
    if p["kind"] == "admission":
        extra = f", validator {p['validator'] or '-'}, service account {p['service_account'] or '-'}"
    return (f"{p['id']}  {p['kind']} of {label(p['department'])}{extra}; proposed by {label(p['proposer'])}; "
            f"{p['status']}, {tally(p)}, deadline {p['deadline']}; voted: {voters}"
            f"{' (you voted)' if p['you_voted'] else ''}")


def print_consortium(state: dict[str, Any]) -> None:
    paused = f"PAUSED: {state['pause_reason'] or 'the reason has not reached this node yet'}" if state["paused"] else "not paused"
    print(f"the consortium: {len(state['members'])} member(s); founding "
          f"{'closed' if state['founding_closed'] else 'open'}; {paused}")
    print("members:")
    for m in state["members"]:
        signer = {True: "signs blocks", False: "NOT signing", None: "no Clique"}[m["signer"]]
        accounts = ", ".join(m["service_accounts"]) or "none"
        print(f"   {label(m)}  validator {m['validator'] or '-'} ({signer}); service accounts {accounts}; "
              f"admitted {m['admitted_at']}")
    opened = [p for p in state["proposals"] if p["status"] in ("open", "passed")]
    print(f"proposals: {len(opened)} open or passed" + ("" if opened else ", none to vote on"))
    for p in state["proposals"]:
        print(f"   {proposal_line(p)}")
    print_consumers(state["consumers"])
    print(f"auditors: {', '.join(state['auditors']) or 'none'}")
    print(f"coordinators: {', '.join(state['coordinators']) or 'none'}")


def print_consumers(consumers: list[dict[str, Any]]) -> None:
    print(f"consumers: {len(consumers)}")
    for c in consumers:
        profile = c["profile"]
        about = (f"{profile['organisation']}; contact {profile['contact']}; purpose {profile['purpose']}"
                 if profile else "no profile")
        print(f"   {c['address']}  sponsored by {label(c['sponsor'])}: {about}")


def _state(api: Api) -> dict[str, Any]:
    found: dict[str, Any] = api.call("GET", "/consortium")
    return found


def _proposal(api: Api, proposal_id: str, *, within: float = 10.0) -> dict[str, Any]:
    """The proposal as the node shows it, once its index has it (a proposal just opened, here or
    on another member's node, may take a block or two); a proposal it never shows is an error."""

    def shown() -> dict[str, Any] | None:
        return next((p for p in _state(api)["proposals"] if p["id"] == proposal_id), None)

    try:
        return api.progress.wait(f"proposal {proposal_id[:10]}... in the node's index", shown, timeout=within)
    except CliError:
        raise CliError(f"no proposal {proposal_id} on this node") from None


def _done(args: argparse.Namespace, api: Api, write: dict[str, Any], desc: str) -> dict[str, Any]:
    """The write followed to its confirmation unless ``--no-wait``; the extra facts of the answer kept."""
    followed = follow(api, write, desc, not args.no_wait)
    return {**write, **followed}


def _sent(args: argparse.Namespace, write: dict[str, Any], said: str, **more: Any) -> int:
    """Print a write's outcome: ``said`` once confirmed, else where it stands."""

    def text() -> None:
        if write["status"] == "confirmed":
            print(said)
        else:
            print_write(said.split(":")[0], write)

    emit(args, {**write, **more}, text)
    return 0 if write["status"] != "failed" else 1


# ---------------------------------------------------------------- consortium show, propose, vote, execute


def cmd_show(args: argparse.Namespace) -> int:
    with connect(args) as api:
        auditor_or_staff_sign_in(args, api)
        state = _state(api)
    emit(args, state, lambda: print_consortium(state))
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    if args.kind == "admit":
        body = {"kind": "admission", "code": args.code, "name": args.name, "validator": args.validator,
                "service_account": args.service_account}
    else:
        body = {"kind": "removal", "code": args.code}
    with signed_in_staff(args) as api:
        write = _done(args, api, api.call("POST", "/consortium/proposals", json=body), "the proposal")
        proposal = _proposal(api, write["proposal"], within=SEEN) if write["status"] == "confirmed" else None
    if proposal is None:
        return _sent(args, write, f"proposed {VERB[body['kind']]} {args.code}: proposal {write['proposal']}")
    return _sent(args, write, f"proposed {VERB[proposal['kind']]} {label(proposal['department'])}: proposal "
                              f"{proposal['id']}, {tally(proposal)}, open until {proposal['deadline']}",
                 proposal_state=proposal)


def cmd_vote(args: argparse.Namespace) -> int:
    with signed_in_staff(args) as api:
        before = _proposal(api, args.proposal)
        write = _done(args, api, api.call("POST", f"/consortium/proposals/{args.proposal}/vote"), "the vote")
        if write["status"] != "confirmed":
            return _sent(args, write, f"vote for {VERB[before['kind']]} {label(before['department'])}")
        after = api.progress.wait("the vote in the tally", lambda: (
            lambda p: p if p["you_voted"] or p["status"] != "open" else None)(_proposal(api, args.proposal)),
            timeout=SEEN)
    passed = "; it has passed: execute it" if after["status"] == "passed" else ""
    return _sent(args, write, f"voted for {VERB[after['kind']]} {label(after['department'])}: {tally(after)}{passed}",
                 proposal_state=after)


def cmd_execute(args: argparse.Namespace) -> int:
    with signed_in_staff(args) as api:
        before = _proposal(api, args.proposal)
        write = _done(args, api, api.call("POST", f"/consortium/proposals/{args.proposal}/execute"), "the execution")
    outcome = "now a member" if before["kind"] == "admission" else "no longer a member"
    return _sent(args, write, f"executed the {before['kind']} of {label(before['department'])}: {outcome}")


# ---------------------------------------------------------------- the coordinator's acts


def cmd_coordinate(args: argparse.Namespace) -> int:
    """pause, resume (with the reason) and close-founding."""
    act, reason = args.consortium_command, getattr(args, "reason", None)
    with signed_in_staff(args) as api:
        write = _done(args, api, api.call("POST", f"/consortium/{act}",
                                          json=None if reason is None else {"reason": reason}), f"the {act}")
    said = {"pause": f"the ledger is paused: {reason}", "resume": f"the ledger is running again: {reason}",
            "close-founding": "founding is closed: new departments join by vote only"}[act]
    return _sent(args, write, said)


def cmd_role(args: argparse.Namespace) -> int:
    """auditor|coordinator appoint|remove ADDRESS."""
    role, act = args.command, args.role_command
    plural = f"/consortium/{role}s"
    path = plural if act == "appoint" else f"{plural}/{args.address}/remove"
    with signed_in_staff(args) as api:
        write = _done(args, api, api.call("POST", path, json={"address": args.address} if act == "appoint" else None),
                      f"the {role}'s {'appointment' if act == 'appoint' else 'removal'}")
    return _sent(args, write, f"{role} {args.address} {'appointed' if act == 'appoint' else 'removed'}")


# ---------------------------------------------------------------- consumers and service accounts


def cmd_consumer(args: argparse.Namespace) -> int:
    with signed_in_staff(args) as api:
        if args.consumer_command == "list":
            consumers = _state(api)["consumers"]
            emit(args, consumers, lambda: print_consumers(consumers))
            return 0
        if args.consumer_command == "add":
            write = _done(args, api, api.call("POST", "/consortium/consumers", json={
                "address": args.address, "organisation": args.organisation, "contact": args.contact,
                "purpose": args.purpose}), "the consumer's registration")
            if write["status"] != "confirmed":
                return _sent(args, write, f"consumer {args.address} registered")
            here = api.progress.wait("the consumer in the node's index", lambda: next(
                (c for c in _state(api)["consumers"] if c["address"].lower() == args.address.lower()), None),
                timeout=SEEN)
            return _sent(args, write, f"consumer {args.address} registered, sponsored by {label(here['sponsor'])}: "
                                      f"{args.organisation}", consumer=here)
        write = _done(args, api, api.call("POST", f"/consortium/consumers/{args.address}/remove",
                                          json={"reason": args.reason}), "the consumer's removal")
    return _sent(args, write, f"consumer {args.address} removed: {args.reason}")


def cmd_service_account(args: argparse.Namespace) -> int:
    act = args.service_account_command
    if act == "accept":
        account = wallet(args)
        with connect(args) as api:  # no session: the account holds no role yet, and the relay checks the offer
            names = api.department_names()
            done = signed_call(api, account, "Consortium", "acceptServiceAccount", department_id(args.department))
        named = label({"code": args.department, "name": names.get(args.department)})
        emit(args, {**done, "account": account.address, "department": args.department},
             lambda: print(f"{account.address} is now a service account of {named}: tx {done['tx_hash']}, "
                           f"block {done['block_number']}"))
        return 0
    with signed_in_staff(args) as api:
        if act == "offer":
            write = _done(args, api, api.call("POST", "/consortium/service-accounts", json={"address": args.address}),
                          "the offer")
            return _sent(args, write, f"service account {args.address} offered: it accepts with "
                                      "provledger service-account accept --department CODE and its keystore")
        write = _done(args, api, api.call("POST", f"/consortium/service-accounts/{args.address}/remove"),
                      "the removal")
    return _sent(args, write, f"service account {args.address} removed")


# ---------------------------------------------------------------- the commands


def _writes(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the confirmation")
    node_command(parser, staff=True)
    return parser


def add_commands(commands: SubCommands, consortium_commands: SubCommands) -> None:
    """These commands: under ``provledger consortium`` (beside up, down and status) and their own groups."""
    show = consortium_commands.add_parser("show", help="members (and whether each signs), open proposals with their "
                                                       "tally, consumers, auditors, coordinators, the pause (anyone "
                                                       "signed in)")
    node_command(show, staff=True, wallet=True)
    show.set_defaults(run=cmd_show)

    propose = consortium_commands.add_parser("propose", help="propose a department's admission or removal "
                                                             "(staff: admin of a member)")
    kinds = propose.add_subparsers(dest="kind", required=True, metavar="KIND")
    admit = kinds.add_parser("admit", help="propose admitting a department, with its validator and service account")
    admit.add_argument("code", type=check_code_arg, metavar="CODE", help="the department's code, e.g. market-regulation")
    admit.add_argument("--name", required=True, type=_name, help="its name, e.g. 市场监管局")
    admit.add_argument("--validator", required=True, type=address, metavar="ADDRESS", help="its Clique signer")
    admit.add_argument("--service-account", required=True, type=address, metavar="ADDRESS",
                       help="the account its node sends with")
    remove = kinds.add_parser("remove", help="propose removing a member department")
    remove.add_argument("code", type=check_code_arg, metavar="CODE")
    for sub in (admit, remove):
        _writes(sub).set_defaults(run=cmd_propose)

    for name, run, text in (("vote", cmd_vote, "vote for a proposal (staff: admin of a member)"),
                            ("execute", cmd_execute, "execute a proposal that has passed (staff: admin of a member)")):
        sub = consortium_commands.add_parser(name, help=text)
        sub.add_argument("proposal", type=hash32("proposal"), metavar="PROPOSAL")
        _writes(sub).set_defaults(run=run)
    for name, text in (("pause", "pause the ledger: every write refused until resumed (the coordinator)"),
                       ("resume", "resume the ledger: the writes held back land (the coordinator)")):
        sub = consortium_commands.add_parser(name, help=text)
        sub.add_argument("--reason", required=True, type=_on_chain("reason"), metavar="TEXT",
                         help="shown to everyone refused; goes on chain: no personal data")
        _writes(sub).set_defaults(run=cmd_coordinate)
    _writes(consortium_commands.add_parser(
        "close-founding", help="close founding: new departments join by vote only (the coordinator)")).set_defaults(
        run=cmd_coordinate)

    consumer = commands.add_parser("consumer", help="consumers this department sponsors (staff: admin)")
    consumers = consumer.add_subparsers(dest="consumer_command", required=True, metavar="COMMAND")
    add = consumers.add_parser("add", help="sponsor a consumer, with its profile (hashed on chain)")
    add.add_argument("address", type=address, metavar="ADDRESS")
    for option in ("organisation", "contact", "purpose"):
        add.add_argument(f"--{option}", required=True, type=_on_chain(option), metavar="TEXT",
                         help="published on chain: no ID or mobile number")
    dropped = consumers.add_parser("remove", help="remove a consumer (its sponsor, or the coordinator)")
    dropped.add_argument("address", type=address, metavar="ADDRESS")
    dropped.add_argument("--reason", required=True, type=_on_chain("reason"), metavar="TEXT")
    for sub in (add, dropped):
        _writes(sub)
    node_command(consumers.add_parser("list", help="every consumer, its sponsor and its profile"), staff=True)
    for sub in consumers.choices.values():
        sub.set_defaults(run=cmd_consumer)

    for role, text in (("auditor", "auditors: they read every trace (the coordinator)"),
                       ("coordinator", "coordinators: pause, auditors, co-approvals (the coordinator)")):
        group = commands.add_parser(role, help=text).add_subparsers(dest="role_command", required=True,
                                                                    metavar="COMMAND")
        for act in ("appoint", "remove"):
            sub = group.add_parser(act, help=f"{act} a{'n' if role == 'auditor' else ''} {role}")
            sub.add_argument("address", type=address, metavar="ADDRESS")
            _writes(sub).set_defaults(run=cmd_role)

    accounts = commands.add_parser("service-account", help="the accounts a department's node sends with")
    account_commands = accounts.add_subparsers(dest="service_account_command", required=True, metavar="COMMAND")
    for act, text in (("offer", "offer a new account a place as this department's service account (staff: admin)"),
                      ("remove", "remove one of this department's service accounts (staff: admin)")):
        sub = account_commands.add_parser(act, help=text)
        sub.add_argument("address", type=address, metavar="ADDRESS")
        _writes(sub).set_defaults(run=cmd_service_account)
    accept = account_commands.add_parser("accept", help="the offered account accepts, signing with its own keystore")
    accept.add_argument("--department", required=True, type=check_code_arg, metavar="CODE", help="the department that offered")
    node_command(accept, wallet=True)
    accept.set_defaults(run=cmd_service_account)
