#!/usr/bin/env bash
# Deploy cryptofirm to AWS with the CloudFormation stacks of this directory (docs/deploy.md).
# Used by the CI/CD workflow's `deploy` job on tags and by hand; run from the repository root.
#
#   infra/aws/deploy.sh all        stacks, image, app + worker, migration, monitoring, UI
#   infra/aws/deploy.sh base       network, data, registry
#   infra/aws/deploy.sh image      build and push the API/worker image (TAG)
#   infra/aws/deploy.sh app        app + worker stacks on TAG, then the migration task
#   infra/aws/deploy.sh monitoring alarms (ALARM_EMAIL optional)
#   infra/aws/deploy.sh web        web stack, UI build, S3 upload, CloudFront invalidation
#
# Environment: AWS_REGION, ENV_NAME (default cryptofirm), TAG (default: git short sha), and
# optionally CERTIFICATE_ARN, LLM_PROVIDER, LLM_KEY_ARN, API_KEY_ARN, ALARM_EMAIL.
set -euo pipefail

: "${AWS_REGION:?set AWS_REGION}"
export AWS_REGION AWS_DEFAULT_REGION="$AWS_REGION"
ENV_NAME="${ENV_NAME:-cryptofirm}"
TAG="${TAG:-$(git rev-parse --short=12 HEAD)}"
LLM_PROVIDER="${LLM_PROVIDER:-rules}"
here="infra/aws"

out() {
    aws cloudformation describe-stacks --stack-name "$1" \
        --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue" --output text
}

deploy_stack() {
    local name="$1" template="$2"
    shift 2
    echo "--- stack $ENV_NAME-$name"
    aws cloudformation deploy --no-fail-on-empty-changeset --stack-name "$ENV_NAME-$name" \
        --template-file "$here/$template" --capabilities CAPABILITY_IAM \
        --parameter-overrides EnvironmentName="$ENV_NAME" "$@"
}

base() {
    deploy_stack network network.yaml
    deploy_stack data data.yaml
    deploy_stack registry registry.yaml
}

image() {
    local repo
    repo="$(out "$ENV_NAME-registry" ApiRepositoryUri)"
    aws ecr get-login-password | docker login --username AWS --password-stdin "${repo%%/*}"
    if aws ecr describe-images --repository-name "${repo#*/}" --image-ids imageTag="$TAG" >/dev/null 2>&1; then
        echo "image $repo:$TAG already pushed (tags are immutable)"
        return
    fi
    docker buildx build --platform linux/amd64 -f infra/docker/api.Dockerfile -t "$repo:$TAG" --push .
}

app() {
    local params=(ImageTag="$TAG" LlmProvider="$LLM_PROVIDER")
    [ -n "${LLM_KEY_ARN:-}" ] && params+=(LlmApiKeySecretArn="$LLM_KEY_ARN")
    local app_params=("${params[@]}")
    [ -n "${CERTIFICATE_ARN:-}" ] && app_params+=(CertificateArn="$CERTIFICATE_ARN")
    [ -n "${API_KEY_ARN:-}" ] && app_params+=(ApiKeySecretArn="$API_KEY_ARN")
    deploy_stack app app.yaml "${app_params[@]}"
    deploy_stack worker worker.yaml "${params[@]}"
    migrate
}

# One-off task from the app's task definition: parallel tasks never race on Alembic.
migrate() {
    local cluster subnets task code
    cluster="$(out "$ENV_NAME-app" ClusterName)"
    subnets="$(aws cloudformation list-exports \
        --query "Exports[?Name=='$ENV_NAME-PrivateSubnetIds'].Value" --output text)"
    task="$(aws ecs run-task --cluster "$cluster" --launch-type FARGATE \
        --task-definition "$(out "$ENV_NAME-app" TaskDefinitionArn)" \
        --network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$(out "$ENV_NAME-app" ServiceSecurityGroupId)],assignPublicIp=DISABLED}" \
        --overrides '{"containerOverrides":[{"name":"api","command":["cryptofirm","migrate"]}]}' \
        --query 'tasks[0].taskArn' --output text)"
    aws ecs wait tasks-stopped --cluster "$cluster" --tasks "$task"
    code="$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
        --query 'tasks[0].containers[0].exitCode' --output text)"
    if [ "$code" != 0 ]; then
        echo "migration task $task exited $code (logs: /ecs/$ENV_NAME/api)" >&2
        exit 1
    fi
    echo "migration: exit 0"
}

monitoring() {
    local params=()
    [ -n "${ALARM_EMAIL:-}" ] && params+=(AlarmEmail="$ALARM_EMAIL")
    deploy_stack monitoring monitoring.yaml "${params[@]}"
}

web() {
    deploy_stack web web.yaml
    (cd web && npm ci --no-audit --no-fund && npm run build)
    local bucket site
    bucket="$(out "$ENV_NAME-web" SiteBucketName)"
    aws s3 sync web/out "s3://$bucket" --delete --exclude "_next/static/*" \
        --cache-control "public,max-age=0,must-revalidate"
    aws s3 sync web/out/_next/static "s3://$bucket/_next/static" \
        --cache-control "public,max-age=31536000,immutable"
    aws cloudfront create-invalidation --distribution-id "$(out "$ENV_NAME-web" DistributionId)" \
        --paths "/*" >/dev/null
    site="$(out "$ENV_NAME-web" SiteUrl)"
    echo "site: $site"
    if [ -n "${GITHUB_OUTPUT:-}" ]; then
        echo "site_url=$site" >>"$GITHUB_OUTPUT"
    fi
}

case "${1:-}" in
    all) base; image; app; monitoring; web ;;
    base) base ;;
    image) image ;;
    app) app ;;
    migrate) migrate ;;
    monitoring) monitoring ;;
    web) web ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
esac
