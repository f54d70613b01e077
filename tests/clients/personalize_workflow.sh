#!/usr/bin/env bash
# Amazon Personalize's getting-started workflow as a shell script drives it with the AWS CLI: nothing
# here knows about Tailor. Point it at any endpoint with AWS_ENDPOINT_URL (and credentials, region).
#
#   personalize_workflow.sh <work dir> <name suffix>
#
# The work dir holds interactions.csv, schema.json and trust.json; the script writes what it got back
# into it (*.json, and errors.txt for the calls that must fail) for the caller to check.
set -euo pipefail

work=$1
suffix=$2
aws=${AWS_CLI:-aws}
bucket="tailor-cli-$suffix"

# Personalize has no CLI waiters: poll a describe call's status until it settles.
wait_status() {
  local query=$1
  shift
  local status
  for _ in $(seq 1 240); do
    status=$("$aws" "$@" --query "$query" --output text)
    case $status in
      ACTIVE) return 0 ;;
      "CREATE FAILED" | "CREATE STOPPED") echo "$* ended $status" >&2; return 1 ;;
    esac
    sleep 1
  done
  echo "$* still $status" >&2
  return 1
}

"$aws" s3 mb "s3://$bucket" >/dev/null
"$aws" s3 cp "$work/interactions.csv" "s3://$bucket/input/interactions.csv" >/dev/null
role=$("$aws" iam create-role --role-name "PersonalizeCli-$suffix" \
  --assume-role-policy-document "file://$work/trust.json" --query Role.Arn --output text)

schema=$("$aws" personalize create-schema --name "cli-schema-$suffix" \
  --schema "file://$work/schema.json" --query schemaArn --output text)
group=$("$aws" personalize create-dataset-group --name "cli-group-$suffix" \
  --query datasetGroupArn --output text)
wait_status datasetGroup.status personalize describe-dataset-group --dataset-group-arn "$group"
dataset=$("$aws" personalize create-dataset --name "cli-interactions-$suffix" --schema-arn "$schema" \
  --dataset-group-arn "$group" --dataset-type Interactions --query datasetArn --output text)
import=$("$aws" personalize create-dataset-import-job --job-name "cli-import-$suffix" \
  --dataset-arn "$dataset" --data-source "dataLocation=s3://$bucket/input/interactions.csv" \
  --role-arn "$role" --query datasetImportJobArn --output text)
wait_status datasetImportJob.status personalize describe-dataset-import-job \
  --dataset-import-job-arn "$import"

solution=$("$aws" personalize create-solution --name "cli-solution-$suffix" \
  --dataset-group-arn "$group" --recipe-arn arn:aws:personalize:::recipe/aws-user-personalization \
  --solution-config '{"algorithmHyperParameters": {"epochs": "2", "hidden_dimension": "32"}}' \
  --query solutionArn --output text)
version=$("$aws" personalize create-solution-version --solution-arn "$solution" \
  --query solutionVersionArn --output text)
wait_status solutionVersion.status personalize describe-solution-version \
  --solution-version-arn "$version"
"$aws" personalize get-solution-metrics --solution-version-arn "$version" >"$work/metrics.json"

campaign=$("$aws" personalize create-campaign --name "cli-campaign-$suffix" \
  --solution-version-arn "$version" --min-provisioned-tps 1 --query campaignArn --output text)
wait_status campaign.status personalize describe-campaign --campaign-arn "$campaign"
"$aws" personalize-runtime get-recommendations --campaign-arn "$campaign" --user-id user-0 \
  --num-results 5 >"$work/recommendations.json"

filter=$("$aws" personalize create-filter --name "cli-unseen-$suffix" --dataset-group-arn "$group" \
  --filter-expression 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")' \
  --query filterArn --output text)
wait_status filter.status personalize describe-filter --filter-arn "$filter"
# The Developer Guide's metric attribution commands, as written there.
attribution=$("$aws" personalize create-metric-attribution --name "cli-attribution-$suffix" \
  --dataset-group-arn "$group" \
  --metrics-output-config "{\"roleArn\": \"$role\", \"s3DataDestination\":{\"path\":\"s3://$bucket/attribution/\"}}" \
  --metrics '[{"eventType": "click", "expression": "SAMPLECOUNT()", "metricName": "CLICKS"},
    {"eventType": "watch", "expression": "SAMPLECOUNT()", "metricName": "WATCHES"}]' \
  --query metricAttributionArn --output text)
"$aws" personalize update-metric-attribution --metric-attribution-arn "$attribution" \
  --remove-metrics WATCHES >/dev/null
"$aws" personalize list-metric-attribution-metrics --metric-attribution-arn "$attribution" \
  >"$work/attribution-metrics.json"
tracker=$("$aws" personalize create-event-tracker --name "cli-tracker-$suffix" \
  --dataset-group-arn "$group" --query trackingId --output text)
wait_status eventTracker.status personalize describe-event-tracker \
  --event-tracker-arn "$("$aws" personalize list-event-trackers --dataset-group-arn "$group" \
    --query 'eventTrackers[0].eventTrackerArn' --output text)"
"$aws" personalize-events put-events --tracking-id "$tracker" --user-id user-0 --session-id cli-session \
  --event-list '[{"eventType": "click", "itemId": "item-1", "sentAt": 1800000000}]'
"$aws" personalize-runtime get-recommendations --campaign-arn "$campaign" --user-id user-0 \
  --num-results 5 --filter-arn "$filter" >"$work/filtered.json"

# Paging: the CLI follows nextToken itself; --max-items and --starting-token page on the client.
"$aws" personalize list-solution-versions --solution-arn "$solution" >"$work/versions.json"
"$aws" personalize list-recipes --page-size 3 --query 'recipes[].name' >"$work/recipes.json"

# Calls that must fail: the CLI exits 255 and prints the service's error code and message.
: >"$work/errors.txt"
for call in \
  "personalize describe-campaign --campaign-arn ${campaign}-missing" \
  "personalize create-dataset-group --name cli-group-$suffix" \
  "personalize-runtime get-recommendations --campaign-arn $campaign" \
  "personalize create-solution --name cli-bad-$suffix --dataset-group-arn $group --recipe-arn arn:aws:personalize:::recipe/aws-no-such-recipe"; do
  # shellcheck disable=SC2086 # each call is a word list on purpose
  if "$aws" $call >/dev/null 2>>"$work/errors.txt"; then
    echo "unexpected success: $call" >&2
    exit 1
  else
    echo "exit $? from: $call" >>"$work/errors.txt"
  fi
done
echo "campaign=$campaign"
