"""The interview report: figures computed from recorded facts (each with how it was
computed), the interviewers' scorecards, and the organization's report settings."""
