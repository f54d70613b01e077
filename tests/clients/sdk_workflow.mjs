// Amazon Personalize's workflow through the AWS SDK for JavaScript v3, as a Node.js user writes it:
// nothing here knows about Tailor. The SDK reads AWS_ENDPOINT_URL, credentials and region itself.
//
//   node sdk_workflow.mjs <s3 uri of interactions.csv> <role arn> <schema file> <name suffix>
//
// Prints one JSON document of what came back, for the caller to check.
import { readFileSync } from "node:fs";
import {
  PersonalizeClient,
  CreateSchemaCommand,
  CreateDatasetGroupCommand,
  DescribeDatasetGroupCommand,
  CreateDatasetCommand,
  CreateDatasetImportJobCommand,
  DescribeDatasetImportJobCommand,
  CreateSolutionCommand,
  CreateSolutionVersionCommand,
  DescribeSolutionVersionCommand,
  GetSolutionMetricsCommand,
  CreateCampaignCommand,
  DescribeCampaignCommand,
  CreateEventTrackerCommand,
  DescribeEventTrackerCommand,
  CreateFilterCommand,
  CreateMetricAttributionCommand,
  DescribeMetricAttributionCommand,
  ListMetricAttributionMetricsCommand,
  paginateListRecipes,
} from "@aws-sdk/client-personalize";
import {
  PersonalizeRuntimeClient,
  GetRecommendationsCommand,
} from "@aws-sdk/client-personalize-runtime";
import { PersonalizeEventsClient, PutEventsCommand } from "@aws-sdk/client-personalize-events";

const [dataLocation, roleArn, schemaFile, suffix] = process.argv.slice(2);
const personalize = new PersonalizeClient({ maxAttempts: 1 });
const runtime = new PersonalizeRuntimeClient({ maxAttempts: 1 });
const events = new PersonalizeEventsClient({ maxAttempts: 1 });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Personalize has no SDK waiters: poll a describe call until its status settles.
async function active(describe, pick) {
  for (let i = 0; i < 240; i++) {
    const resource = pick(await describe());
    if (resource.status === "ACTIVE") return resource;
    if (resource.status.startsWith("CREATE FAILED")) throw new Error(JSON.stringify(resource));
    await sleep(1000);
  }
  throw new Error("still not ACTIVE");
}

// A failed call's error as the SDK surfaces it: class name, HTTP status, message.
async function failure(promise) {
  try {
    await promise;
    return { name: "no error" };
  } catch (error) {
    return { name: error.name, status: error.$metadata?.httpStatusCode, message: error.message };
  }
}

const out = {};
const { schemaArn } = await personalize.send(
  new CreateSchemaCommand({ name: `js-schema-${suffix}`, schema: readFileSync(schemaFile, "utf8") }),
);
const { datasetGroupArn } = await personalize.send(
  new CreateDatasetGroupCommand({ name: `js-group-${suffix}` }),
);
const group = await active(
  () => personalize.send(new DescribeDatasetGroupCommand({ datasetGroupArn })),
  (r) => r.datasetGroup,
);
out.groupCreatedIsADate = group.creationDateTime instanceof Date;
out.groupCreatedMsAgo = Date.now() - group.creationDateTime.getTime();
const { datasetArn } = await personalize.send(
  new CreateDatasetCommand({
    name: `js-interactions-${suffix}`,
    schemaArn,
    datasetGroupArn,
    datasetType: "Interactions",
  }),
);
const { datasetImportJobArn } = await personalize.send(
  new CreateDatasetImportJobCommand({
    jobName: `js-import-${suffix}`,
    datasetArn,
    dataSource: { dataLocation },
    roleArn,
  }),
);
await active(
  () => personalize.send(new DescribeDatasetImportJobCommand({ datasetImportJobArn })),
  (r) => r.datasetImportJob,
);
const { solutionArn } = await personalize.send(
  new CreateSolutionCommand({
    name: `js-sims-${suffix}`,
    datasetGroupArn,
    recipeArn: "arn:aws:personalize:::recipe/aws-sims",
  }),
);
const { solutionVersionArn } = await personalize.send(
  new CreateSolutionVersionCommand({ solutionArn }),
);
await active(
  () => personalize.send(new DescribeSolutionVersionCommand({ solutionVersionArn })),
  (r) => r.solutionVersion,
);
out.metrics = (await personalize.send(new GetSolutionMetricsCommand({ solutionVersionArn }))).metrics;
const { campaignArn } = await personalize.send(
  new CreateCampaignCommand({ name: `js-campaign-${suffix}`, solutionVersionArn, minProvisionedTPS: 1 }),
);
await active(
  () => personalize.send(new DescribeCampaignCommand({ campaignArn })),
  (r) => r.campaign,
);
out.related = await runtime.send(
  new GetRecommendationsCommand({ campaignArn, itemId: "item-4", numResults: 10 }),
);
delete out.related.$metadata;

const { eventTrackerArn, trackingId } = await personalize.send(
  new CreateEventTrackerCommand({ name: `js-tracker-${suffix}`, datasetGroupArn }),
);
await active(
  () => personalize.send(new DescribeEventTrackerCommand({ eventTrackerArn })),
  (r) => r.eventTracker,
);
const put = await events.send(
  new PutEventsCommand({
    trackingId,
    userId: "user-0",
    sessionId: "js-session",
    eventList: [
      {
        eventType: "click",
        itemId: "item-8",
        sentAt: new Date(),
        recommendationId: out.related.recommendationId,
        metricAttribution: { eventAttributionSource: "js-newsletter" },
      },
    ],
  }),
);
out.putEventsStatus = put.$metadata.httpStatusCode;

const { metricAttributionArn } = await personalize.send(
  new CreateMetricAttributionCommand({
    name: `js-attribution-${suffix}`,
    datasetGroupArn,
    metrics: [{ eventType: "click", expression: "SAMPLECOUNT()", metricName: "CLICKS" }],
    metricsOutputConfig: { roleArn },
  }),
);
const { metricAttribution } = await personalize.send(
  new DescribeMetricAttributionCommand({ metricAttributionArn }),
);
out.attribution = {
  status: metricAttribution.status,
  createdIsADate: metricAttribution.creationDateTime instanceof Date,
  metrics: (await personalize.send(new ListMetricAttributionMetricsCommand({ metricAttributionArn }))).metrics,
};

// --page-size 3 over the whole catalogue: the paginator follows nextToken.
out.recipes = [];
for await (const page of paginateListRecipes({ client: personalize, pageSize: 3 }, {})) {
  out.recipes.push(...page.recipes.map((recipe) => recipe.name));
}

out.errors = {
  describeMissingCampaign: await failure(
    personalize.send(new DescribeCampaignCommand({ campaignArn: `${campaignArn}-missing` })),
  ),
  badFilterExpression: await failure(
    personalize.send(
      new CreateFilterCommand({
        name: `js-bad-${suffix}`,
        datasetGroupArn,
        filterExpression: 'EXCLUDE ItemID WHERE Nope.GENRE IN ("x")',
      }),
    ),
  ),
  recommendFromMissingCampaign: await failure(
    runtime.send(new GetRecommendationsCommand({ campaignArn: `${campaignArn}-missing`, itemId: "item-4" })),
  ),
  putEventsUnknownTracker: await failure(
    events.send(
      new PutEventsCommand({
        trackingId: "no-such-tracker",
        userId: "user-0",
        sessionId: "js-session",
        eventList: [{ eventType: "click", itemId: "item-8", sentAt: new Date() }],
      }),
    ),
  ),
};
console.log(JSON.stringify(out));
