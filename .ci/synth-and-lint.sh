#!/usr/bin/env bash
# Synthesizes the example app (no AWS credentials needed: no context lookups) and lints the
# templates with cfn-lint. Fails on any cfn-lint error and on any unacknowledged cdk-nag finding
# (synthesis fails on those); cfn-lint warnings are printed but do not fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."

# Never reach for AWS: no version check, no notices, no credentials or region from the host.
export CDK_DISABLE_VERSION_CHECK=1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN

rm -rf cdk.out
npx cdk synth --quiet --no-notices --no-version-reporting --output cdk.out "$@"

if ! command -v cfn-lint >/dev/null; then
  echo "cfn-lint is not installed: pip install cfn-lint (the synthesis above passed)" >&2
  exit 1
fi

# cfn-lint's exit status is a bit mask: 2 = error, 4 = warning, 8 = informational.
status=0
cfn-lint --config-file .cfnlintrc -- cdk.out/*.template.json || status=$?
if (( status & 2 )); then
  echo "cfn-lint: errors in the synthesized templates" >&2
  exit 1
fi
if (( status & 4 )); then
  echo "cfn-lint: warnings above (not fatal); justify or fix them, see .cfnlintrc" >&2
fi
echo "synth-and-lint: OK"
