"""The fault lab: Pacemaker's CTS scenarios on local hosts, with an audit after every round.

    python -m defib.lab [--scenario NAME ...] [--rounds N] [--seed S] [--nodes N]
    python -m defib.lab --minutes 60          # random scenarios until the time is up

See docs/lab.md.
"""
