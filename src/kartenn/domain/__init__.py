"""Domain objects shared by every layer."""

from kartenn.domain.models import Dataset, Field, Job, JobState, Record

__all__ = ["Dataset", "Field", "Job", "JobState", "Record"]
