"""The local cloud's Vertex AI emulator: Model Registry, CustomJobs and their log lines, at the REST wire protocol.

No Vertex AI emulator exists, so this one is ours. `google-cloud-aiplatform` (REST transport)
and `google-cloud-logging` talk to it as they talk to Google: the registry, the training
runner and `python -m ml jobs` run the same calls on `local` as in the cloud. A job's
replicas run as local processes of the project's environment, which stands in for the
training image: there is no container runtime here. State persists in one SQLite file.
"""
