"""The local cloud: emulators started on this machine and provisioned from the `local` stack.

`make up` reads the Terraform JSON that cdktn synthesized for `local` and creates exactly
the datasets, tables and buckets it declares, through the real Google Cloud clients: the
stack stays the single source of truth for both worlds.
"""

from infra.terraform_json import Resource, load_stack
from localcloud.cloud import LocalCloud
from localcloud.provision import Provisioner

__all__ = ["LocalCloud", "Provisioner", "Resource", "load_stack"]
