# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    """AWS authentication and endpoint options (plugins/module_utils/_aws.py aws_argument_spec())."""

    DOCUMENTATION = r"""
options:
  access_key:
    description:
      - AWS access key ID.
      - The E(AWS_ACCESS_KEY_ID) or E(AWS_ACCESS_KEY) environment variables are used when this is not set, in that order.
      - Mutually exclusive with O(profile).
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key.
      - The E(AWS_SECRET_ACCESS_KEY) or E(AWS_SECRET_KEY) environment variables are used when this is not set, in that order.
      - Mutually exclusive with O(profile).
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description:
      - AWS STS session token for temporary credentials.
      - The E(AWS_SESSION_TOKEN) environment variable is used when this is not set.
      - Mutually exclusive with O(profile).
    type: str
    aliases: [aws_session_token]
  profile:
    description:
      - A named profile from the AWS shared configuration and credentials files.
      - The E(AWS_PROFILE) or E(AWS_DEFAULT_PROFILE) environment variables are used when this is not set.
      - Mutually exclusive with O(access_key), O(secret_key) and O(session_token).
    type: str
    aliases: [aws_profile]
  region:
    description:
      - The AWS region, for example V(eu-west-1).
      - The E(AWS_REGION) or E(AWS_DEFAULT_REGION) environment variables, then the profile's region, are used when this
        is not set.
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - URL of the EC2 API to use instead of AWS's regional endpoint, for example a local stand-in in a test lab.
      - The E(AWS_ENDPOINT_URL_EC2), E(AWS_ENDPOINT_URL) or E(AWS_URL) environment variables are used when this is not
        set, in that order.
    type: str
    aliases: [aws_endpoint_url]
  validate_certs:
    description:
      - Whether to validate the TLS certificate of the API endpoint.
      - Prefer O(aws_ca_bundle) to turning validation off.
    type: bool
    default: true
  aws_ca_bundle:
    description:
      - Path to a CA bundle used to validate the API endpoint's certificate.
      - The E(AWS_CA_BUNDLE) environment variable is used when this is not set.
    type: path
  aws_config:
    description:
      - Settings for botocore's client configuration (C(botocore.config.Config)), for example C(connect_timeout) or
        C(retries).
      - 'Retries: botocore retries throttling and transient errors in C(standard) mode, 10 attempts in all, unless
        C(retries) says otherwise, for example C({"mode": "adaptive", "total_max_attempts": 5}), or the
        E(AWS_RETRY_MODE) and E(AWS_MAX_ATTEMPTS) environment variables do.'
    type: dict
notes:
  - Credentials are also read by boto3 from its usual places (environment, shared files, instance metadata) when no
    option sets them, as with the amazon.aws collection.
requirements:
  - boto3 >= 1.28
  - botocore >= 1.31
"""
