"""``provledger``: the consortium from the command line, over the nodes' HTTP API.

    provledger up [--department CODE=NAME ...]     a local chain, the contracts, the departments' nodes
                                                    and their APIs (or --departments-file, --departments N)
    provledger demo                                 the whole story on a fresh local deployment, over HTTP
    provledger dataset register ... FILE            staff: register a dataset and upload its first version
    provledger catalog [--q TEXT] [--department D]  anyone: every department's datasets, with their freshness
    provledger catalog show ID                      anyone: one dataset's metadata, fields and versions
    provledger request --dataset ID ...             consumer: ask for access (signed here, relayed by the node)
    provledger review [--json]                      staff: the review queue, purpose, dataset, fields and terms in view
    provledger approve GRANT [--co-approve]         staff: approve a request, or co-approve as the coordinator
    provledger reject GRANT --reason TEXT           staff: reject a request (the owner, or the coordinator)
    provledger quality open|list|repair|close|reopen  staff: quality issues across departments
    provledger use GRANT [--out FILE] [--encrypt]   consumer: a delivery under the grant, decrypted here
    provledger statement check|acknowledge STMT     consumer: a statement checked against the chain, then acknowledged
    provledger trace DATASET [--verify]             auditor or staff: a dataset's history, verified complete on request
    provledger trace --consumer ADDRESS             auditor or staff: a consumer's history
    provledger verify DATASET VERSION               a version's files against its anchored root, on the node
    provledger verify --file PATH --root 0x...      a local copy against a content root
    provledger login                                consumer or auditor: a one-time dashboard link for a browser
    provledger consortium up|down|status            a consortium of geth nodes on this machine
    provledger node init|start|join                 operator: this department's node on its own machine
    provledger consortium genesis|deploy            operator: the founders' genesis, the coordinator's deployment
    provledger serve                                one node's API, from PROVLEDGER_* settings
    provledger staff add|list|disable|password|role the node's staff accounts, on its database (same settings)
    provledger dataset version|list|show|freeze|unfreeze|purge, reject, revoke, write ID, quality rules set|show,
               quality check, statement issue       staff: the rest of a department's work
    provledger grants, uses, withdraw GRANT, decrypt FILE, statement show   consumer: its own
    provledger alerts, attribute FILE               auditor or staff: the monitor's alerts, a leak's source
    provledger departments                          the consortium's members by code and name
    provledger consortium show                      signed in: members, proposals and tallies, consumers, auditors, pause
    provledger consortium propose admit|remove CODE, vote|execute PROPOSAL   a member's admin staff
    provledger consumer add|remove|list, service-account offer|remove       a department's admin staff
    provledger service-account accept --department CODE   the offered account, with its keystore
    provledger auditor|coordinator appoint|remove ADDRESS, consortium pause|resume|close-founding
                                                    the coordinator's admin staff

``--json`` prints a command's result as one JSON document (names in their script).

``--api URL`` (PROVLEDGER_API) names the node. Staff sign in with ``--user``/``--password``
(PROVLEDGER_USER, PROVLEDGER_PASSWORD); consumers and auditors with ``--keystore``
(PROVLEDGER_KEYSTORE) and its passphrase (PROVLEDGER_PASSPHRASE, or asked), by Sign-In with
Ethereum. Exit status: 0 done; 1 refused or failed; 2 bad usage or bad input. Every error is
one line on stderr; progress bars go to stderr when it is a terminal.

Where each command lives:

    datasets.py   dataset register (and the upload and anchoring it waits for)
    catalog.py    catalog, catalog show: every department's datasets, from any node
    access.py     request, approve, use, statement: access to a dataset and its settlement
    review.py     review, reject, quality open|list|repair|close|reopen
    audit.py      trace, verify
    signin.py     login, and how every command signs in (staff, or a keystore by SIWE)
    staff.py      staff add|list|disable|password|role
    nodes.py      up, demo (its story: :mod:`api.demo`), consortium (:mod:`node.consortium`), serve
    manage.py     dataset version|list|show|freeze|unfreeze|purge, reject, revoke, write, quality, statement issue
    mine.py       grants, uses, withdraw, decrypt, statement show, departments
    oversight.py  alerts, attribute
    governance.py consortium show|propose|vote|execute|pause|resume|close-founding, consumer, auditor,
                  coordinator, service-account: the consortium's governance
    operators.py  node init|start|join, consortium genesis|deploy (:mod:`node.consortium.operator`)
    options.py    the options many commands share, their checks, --json
    client.py     the HTTP client of a node (:class:`Api`), the errors, the progress display
    parser.py     the argparse tree: every command's options
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from api import redact
from api.cli.access import decide, request_access, use_grant
from api.cli.client import Api, CliError, Progress, Refused, UsageError
from api.cli.datasets import register_dataset, upload_version, wait_anchored
from api.cli.parser import build_parser

__all__ = ["Api", "CliError", "Progress", "Refused", "UsageError", "build_parser", "decide", "main", "register_dataset",
           "request_access", "upload_version", "use_grant", "wait_anchored"]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    redact.install()
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except UsageError as err:
        print(f"{err.prog}: error: {_one_line(str(err))}", file=sys.stderr)
        return err.status
    except CliError as err:
        print(f"provledger: {_one_line(str(err))}", file=sys.stderr)
        return err.status
    except OSError as err:  # a file or folder named on the command line
        print(f"provledger: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        print("provledger: interrupted", file=sys.stderr)
        return 130
