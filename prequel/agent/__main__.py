"""`python -m prequel.agent ...`: the same command as `prequel agent`, without the portal
CLI's imports, for the fastest cold start."""

from prequel.agent.cli import main

main()
