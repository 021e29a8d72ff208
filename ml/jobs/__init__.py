"""Training on Vertex AI: the CustomJob a train-publish runs as, submitting, following and managing it.

The same calls reach Vertex AI in the cloud and the local cloud's Vertex AI emulator on
`local` (ml/cloud.py decides the endpoint). Cloud Scheduler posts the body `spec.py` builds,
so a scheduled run and a command-line run are one request.
"""
