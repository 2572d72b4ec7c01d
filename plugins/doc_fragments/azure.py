# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """Authentication and endpoint options of the multicloud.vpn Azure modules."""

    DOCUMENTATION = r"""
options:
  auth_source:
    description:
      - Where the credentials come from, as in the C(azure.azcollection) collection.
      - V(auto) takes, in this order, the module options (when O(client_id) is set), the credentials profile named by
        O(profile), the environment (when E(AZURE_CLIENT_ID) is set), the profile named by E(AZURE_PROFILE) or the
        C(default) profile of C(~/.azure/credentials), and finally azure-identity's C(DefaultAzureCredential)
        (azure-identity's environment variables, workload identity, managed identity, Azure CLI).
      - V(env) reads E(AZURE_SUBSCRIPTION_ID), E(AZURE_CLIENT_ID), E(AZURE_SECRET) (or E(AZURE_CLIENT_SECRET)),
        E(AZURE_TENANT) (or E(AZURE_TENANT_ID)) and E(AZURE_X509_CERTIFICATE_PATH).
      - V(credential_file) reads the O(profile) section (default C(default)) of C(~/.azure/credentials), an INI file
        with the keys C(subscription_id), C(client_id), C(secret), C(tenant) and optionally C(cloud_environment).
      - V(cli) uses the Azure CLI login (C(az login)); V(msi) uses the managed identity of the Azure resource the
        module runs on (O(client_id) selects a user-assigned identity). Both need O(subscription_id).
      - If not set, the environment variable E(ANSIBLE_AZURE_AUTH_SOURCE) is used.
    type: str
    choices: [auto, cli, credential_file, env, msi]
    default: auto
  profile:
    description:
      - A section of C(~/.azure/credentials) to read the credentials from.
      - If not set, the environment variable E(AZURE_PROFILE) is used.
    type: str
  subscription_id:
    description:
      - The Azure subscription to manage.
      - If not set, the environment variable E(AZURE_SUBSCRIPTION_ID) or the credentials profile is used.
    type: str
  client_id:
    description:
      - The application (client) ID of a service principal, or of a user-assigned managed identity with
        O(auth_source=msi).
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  secret:
    description:
      - The client secret of the service principal.
      - If not set, the environment variable E(AZURE_SECRET) or E(AZURE_CLIENT_SECRET) is used.
    type: str
  tenant:
    description:
      - The Microsoft Entra ID tenant of the service principal.
      - If not set, the environment variable E(AZURE_TENANT) or E(AZURE_TENANT_ID) is used.
    type: str
  x509_certificate_path:
    description:
      - A PEM file holding the certificate and private key of the service principal, used instead of O(secret).
      - If not set, the environment variable E(AZURE_X509_CERTIFICATE_PATH) is used.
    type: path
  cloud_environment:
    description:
      - The Azure cloud, V(AzureCloud), V(AzureChinaCloud) or V(AzureUSGovernment). It selects the Azure Resource
        Manager endpoint and the authority that issues tokens.
      - If not set, the environment variable E(AZURE_CLOUD_ENVIRONMENT) or the credentials profile is used, else
        V(AzureCloud).
    type: str
  cert_validation_mode:
    description:
      - V(ignore) turns off TLS certificate validation of the Azure Resource Manager endpoint (a TLS-inspecting
        proxy, Azure Stack). Tokens are still requested with validation.
      - If not set, the environment variable E(AZURE_CERT_VALIDATION_MODE) is used, else V(validate).
    type: str
    choices: [validate, ignore]
  base_url:
    description:
      - The Azure Resource Manager endpoint, as C(scheme://host[:port]), instead of the one of O(cloud_environment).
      - Plain C(http://) is accepted for a loopback address only (C(127.0.0.1), C(localhost), C([::1])), for the
        multicloud.vpn lab; then no credentials are used (any token is accepted there) and only O(subscription_id)
        is needed.
      - If not set, the environment variable E(AZURE_BASE_URL) is used.
    type: str
requirements:
  - azure-mgmt-network >= 33.1.0
  - azure-identity >= 1.15.0
notes:
  - The options and environment variables are those of the C(azure.azcollection) collection, so the same inventory
    variables and AWX credentials work. AWX's Microsoft Azure Resource Manager credential injects
    E(AZURE_SUBSCRIPTION_ID), E(AZURE_CLIENT_ID), E(AZURE_SECRET) and E(AZURE_TENANT); nothing else is needed.
    Option values take precedence over environment variables.
  - Throttling (HTTP 429, honouring C(Retry-After)) and server errors (HTTP 500, 502, 503, 504) of reads, PUTs and
    DELETEs are retried by azure-core's retry policy (three times per status, with exponential back-off).
  - Active Directory user and password authentication (C(ad_user), C(password)) of C(azure.azcollection) is not
    supported; use a service principal, a managed identity or the Azure CLI.
"""
