# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """Authentication and endpoint options of the multicloud.vpn GCP modules."""

    DOCUMENTATION = r"""
options:
  project:
    description:
      - The Google Cloud project to manage.
      - If not set, the environment variables E(GCP_PROJECT), E(GCE_PROJECT) and E(GOOGLE_CLOUD_PROJECT) are tried in
        that order, then the project named by the credentials (service account file, Application Default Credentials).
    type: str
  auth_kind:
    description:
      - The type of credential used, as in the C(google.cloud) collection, plus V(anonymous) for a lab or emulator.
      - V(application) uses Application Default Credentials (E(GOOGLE_APPLICATION_CREDENTIALS), gcloud's ADC, the
        metadata server).
      - V(serviceaccount) uses O(service_account_file) or O(service_account_contents).
      - V(machineaccount) uses the metadata server of the Compute Engine VM the module runs on, as
        O(service_account_email).
      - V(accesstoken) uses O(access_token).
      - V(anonymous) sends no credentials; it requires O(api_endpoint).
      - If not set, the environment variable E(GCP_AUTH_KIND) is used; if that is not set either, the kind is inferred
        from the options given, in this order, O(access_token) gives V(accesstoken), O(service_account_file) or
        O(service_account_contents) give V(serviceaccount), O(service_account_email) gives V(machineaccount), an
        O(api_endpoint) of the form C(http://127.0.0.1[:port]) (or C(localhost), C([::1])) gives V(anonymous), and
        anything else V(application).
    type: str
    choices: [application, machineaccount, serviceaccount, accesstoken, anonymous]
  service_account_email:
    description:
      - The service account of the VM to use with O(auth_kind=machineaccount); defaults to the VM's default account.
      - If not set, the environment variable E(GCP_SERVICE_ACCOUNT_EMAIL) is used.
    type: str
  service_account_file:
    description:
      - The path of a service account JSON key file, for O(auth_kind=serviceaccount).
      - If not set, the environment variables E(GCP_SERVICE_ACCOUNT_FILE) and E(GCE_CREDENTIALS_FILE_PATH) are used
        (AWX and Automation Controller's Google Compute Engine credential sets both).
    type: path
  service_account_contents:
    description:
      - The contents of a service account JSON key, as a dictionary or a JSON string, for O(auth_kind=serviceaccount).
      - If not set, the environment variable E(GCP_SERVICE_ACCOUNT_CONTENTS) is used.
    type: jsonarg
  access_token:
    description:
      - An OAuth2 access token, for O(auth_kind=accesstoken).
      - If not set, the environment variable E(GCP_ACCESS_TOKEN) is used.
    type: str
  scopes:
    description:
      - OAuth2 scopes to request.
      - If not set, the environment variable E(GCP_SCOPES) (comma-separated) is used, else
        C(https://www.googleapis.com/auth/compute).
    type: list
    elements: str
  env_type:
    description:
      - Added to the user agent of the API requests, as in the C(google.cloud) collection (AWX sets E(GCP_ENV_TYPE)).
    type: str
  api_endpoint:
    description:
      - The Compute Engine API endpoint, as C(scheme://host[:port]), for example C(http://127.0.0.1:8482) for the
        multicloud.vpn lab. A trailing C(/compute/v1/) is accepted and ignored.
      - If not set, the environment variables E(GCP_COMPUTE_ENDPOINT) and E(CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE)
        are used, else Google's endpoint C(https://compute.googleapis.com).
      - Operations are polled through the same endpoint.
    type: str
notes:
  - The options and environment variables are those of the C(google.cloud) collection, so the same inventory
    variables and AWX credentials work. Option values take precedence over environment variables.
  - AWX's Google Compute Engine credential injects E(GCP_AUTH_KIND=serviceaccount), E(GCP_PROJECT),
    E(GCP_SERVICE_ACCOUNT_FILE), E(GCE_CREDENTIALS_FILE_PATH), E(GCE_PROJECT) and E(GOOGLE_APPLICATION_CREDENTIALS);
    nothing else is needed.
  - Rate limiting (HTTP 429), unavailability (HTTP 500, 503, 504) and dropped connections are retried with exponential
    backoff; every change is sent with a request ID, so a retried change is executed once.
requirements:
  - google-auth
  - google-cloud-compute >= 1.57.0
"""
