"""CloudFormation templates: cfn-lint clean, stacks wired to each other, security defaults held."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint, lint_file
from infra_paths import AWS_DIR, REPO_ROOT, STACK_FILES

# Linted against the region cfn-lint treats as primary and one more (services differ by region).
LINT_REGIONS = ["us-east-1", "eu-west-1"]
EXPECTED_STACKS = {"network", "data", "registry", "app", "worker", "monitoring", "web"}


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _import_names(template: dict[str, Any]) -> set[str]:
    """Export names a template imports, in the `${EnvironmentName}-X` form every stack uses."""
    names = set()
    for node in _walk(template):
        if isinstance(node, dict) and "Fn::ImportValue" in node:
            value = node["Fn::ImportValue"]
            assert isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str), value
            names.add(value["Fn::Sub"])
    return names


def _export_names(template: dict[str, Any]) -> set[str]:
    return {
        output["Export"]["Name"]["Fn::Sub"]
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }


def _resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == kind}


def test_every_stack_is_present(templates: dict[str, dict[str, Any]]) -> None:
    assert set(templates) == EXPECTED_STACKS


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_cfn_lint_reports_nothing(path: Path) -> None:
    matches = lint_file(path, config=ManualArgs(regions=LINT_REGIONS))
    assert [str(m) for m in matches] == []


def test_cfn_lint_harness_catches_a_broken_template() -> None:
    # Guards the test above against passing vacuously (e.g. a linter that loads no rules).
    text = (AWS_DIR / "app.yaml").read_text()
    broken = text.replace("HealthCheckPath: /api/health", "HealthCheckPat: /api/health")
    assert broken != text
    assert any(m.rule.id.startswith("E") for m in lint(broken, regions=LINT_REGIONS))


def test_default_postgres_version_is_offered_by_rds(templates: dict[str, dict[str, Any]]) -> None:
    # cfn-lint knows RDS's engine versions, but only checks literals: substitute the default.
    default = templates["data"]["Parameters"]["EngineVersion"]["Default"]
    text = (AWS_DIR / "data.yaml").read_text()
    literal = text.replace("EngineVersion: !Ref EngineVersion", f'EngineVersion: "{default}"')
    assert literal != text
    rule_ids = {m.rule.id for m in lint(literal, regions=LINT_REGIONS)}
    assert rule_ids <= {"W2001"}, rule_ids  # W2001: the parameter is now unused, as intended


def test_every_import_is_exported_by_another_stack(templates: dict[str, dict[str, Any]]) -> None:
    exported: dict[str, str] = {}
    for stack, template in templates.items():
        for name in _export_names(template):
            assert name not in exported, f"{name} exported by {exported.get(name)} and {stack}"
            exported[name] = stack
    for stack, template in templates.items():
        for name in _import_names(template):
            assert name in exported, f"{stack} imports {name}, which no stack exports"
            assert exported[name] != stack


def test_every_stack_shares_the_environment_name_parameter(
    templates: dict[str, dict[str, Any]],
) -> None:
    defaults = {t["Parameters"]["EnvironmentName"]["Default"] for t in templates.values()}
    assert defaults == {"cryptofirm"}


def test_network_has_two_public_and_two_private_subnets_with_nat(
    templates: dict[str, dict[str, Any]],
) -> None:
    network = templates["network"]
    subnets = _resources_of_type(network, "AWS::EC2::Subnet")
    assert sorted(subnets) == ["PrivateSubnet1", "PrivateSubnet2", "PublicSubnet1", "PublicSubnet2"]
    azs = {
        name: sub["Properties"]["AvailabilityZone"]["Fn::Select"][0]
        for name, sub in subnets.items()
    }
    assert azs["PublicSubnet1"] != azs["PublicSubnet2"]
    assert azs["PrivateSubnet1"] != azs["PrivateSubnet2"]
    routes = _resources_of_type(network, "AWS::EC2::Route")
    private_routes = [r for n, r in routes.items() if n.startswith("Private")]
    assert len(private_routes) == 2
    assert all("NatGatewayId" in r["Properties"] for r in private_routes)
    assert _resources_of_type(network, "AWS::EC2::NatGateway")


def test_database_is_private_encrypted_postgres_16_with_generated_secret(
    templates: dict[str, dict[str, Any]],
) -> None:
    data = templates["data"]
    (db,) = _resources_of_type(data, "AWS::RDS::DBInstance").values()
    props = db["Properties"]
    assert props["Engine"] == "postgres"
    assert data["Parameters"]["EngineVersion"]["Default"].split(".")[0] == "16"
    assert props["PubliclyAccessible"] is False
    assert props["StorageEncrypted"] is True
    assert db["DeletionPolicy"] == "Snapshot"
    # Credentials come from the generated secret, never from a parameter or a literal.
    for key in ("MasterUsername", "MasterUserPassword"):
        assert "{{resolve:secretsmanager:" in props[key]["Fn::Sub"]
    (secret,) = _resources_of_type(data, "AWS::SecretsManager::Secret").values()
    assert secret["Properties"]["GenerateSecretString"]["GenerateStringKey"] == "password"
    subnet_group = next(iter(_resources_of_type(data, "AWS::RDS::DBSubnetGroup").values()))
    assert "PrivateSubnetIds" in str(subnet_group["Properties"]["SubnetIds"])


def test_app_service_runs_privately_behind_the_alb_health_check(
    templates: dict[str, dict[str, Any]],
) -> None:
    app = templates["app"]
    (service,) = _resources_of_type(app, "AWS::ECS::Service").values()
    vpc = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert vpc["AssignPublicIp"] == "DISABLED"
    assert "PrivateSubnetIds" in str(vpc["Subnets"])
    (target_group,) = _resources_of_type(app, "AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert target_group["Properties"]["HealthCheckPath"] == "/api/health"
    assert target_group["Properties"]["Port"] == 8000
    listener = app["Resources"]["AppListener"]["Properties"]
    assert listener["Protocol"] == {"Fn::If": ["HasCertificate", "HTTPS", "HTTP"]}
    assert _resources_of_type(app, "AWS::ApplicationAutoScaling::ScalingPolicy")
    assert _resources_of_type(app, "AWS::Logs::LogGroup")


def test_app_task_reads_credentials_from_secrets_manager_only(
    templates: dict[str, dict[str, Any]],
) -> None:
    app = templates["app"]
    (task,) = _resources_of_type(app, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    plain_env = {e["Name"] for e in container["Environment"] if "Name" in e}
    secret_names = set()
    for entry in container["Secrets"]:
        if "Fn::If" in entry:
            entry = entry["Fn::If"][1]
        secret_names.add(entry["Name"])
    assert {"DB_USERNAME", "DB_PASSWORD", "LLM_API_KEY", "API_KEY"} <= secret_names
    assert not plain_env & {"DB_PASSWORD", "LLM_API_KEY", "API_KEY", "DATABASE_URL"}
    assert {"DB_HOST", "DB_PORT", "DB_NAME"} <= plain_env
    assert "/api/health" in " ".join(container["HealthCheck"]["Command"])


def test_web_bucket_is_private_and_served_through_oac_with_api_behaviour(
    templates: dict[str, dict[str, Any]],
) -> None:
    web = templates["web"]
    (bucket,) = _resources_of_type(web, "AWS::S3::Bucket").values()
    block = bucket["Properties"]["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    (dist,) = _resources_of_type(web, "AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    assert "OriginAccessControlId" in origins["site"]
    assert "LoadBalancerDnsName" in str(origins["api"]["DomainName"])
    (api_behaviour,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/api/*"]
    assert api_behaviour["TargetOriginId"] == "api"
    assert "POST" in api_behaviour["AllowedMethods"]
    # AWS managed policy "CachingDisabled": API answers and SSE streams are never cached.
    assert api_behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    (policy,) = _resources_of_type(web, "AWS::S3::BucketPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    allow = [s for s in statements if s["Effect"] == "Allow"]
    assert all(s["Principal"] == {"Service": "cloudfront.amazonaws.com"} for s in allow)
    assert all("AWS:SourceArn" in s["Condition"]["StringEquals"] for s in allow)


def test_templates_hold_no_literal_secrets() -> None:
    pattern = re.compile(
        r"(AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9]{16,}|MasterUserPassword:\s*['\"]?[A-Za-z0-9])"
    )
    for path in STACK_FILES:
        assert not pattern.search(path.read_text()), f"literal credential in {path.name}"


def _rewrite(function_code: str, uris: list[str]) -> list[str]:
    script = (
        function_code
        + "\nconst uris = JSON.parse(process.argv[1]);"
        + "\nconsole.log(JSON.stringify(uris.map(u => handler({request: {uri: u}}).uri)));"
    )
    done = subprocess.run(
        ["node", "-e", script, json.dumps(uris)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_cloudfront_function_maps_clean_urls_onto_the_export(
    templates: dict[str, dict[str, Any]],
) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    code = templates["web"]["Resources"]["RewriteFunction"]["Properties"]["FunctionCode"]
    uris = ["/", "/backtest", "/backtest/", "/_next/static/chunks/app.js", "/favicon.ico"]
    assert _rewrite(code, uris) == [
        "/index.html",
        "/backtest/index.html",
        "/backtest/index.html",
        "/_next/static/chunks/app.js",
        "/favicon.ico",
    ]


def test_cloudfront_function_matches_the_web_export_layout() -> None:
    # The function assumes `dir/index.html` pages; that is what trailingSlash: true produces.
    config = REPO_ROOT / "web" / "next.config.ts"
    if not config.exists():
        pytest.skip("web/ is not present")
    text = config.read_text()
    assert re.search(r"output:\s*[\"']export[\"']", text)
    assert re.search(r"trailingSlash:\s*true", text)


def test_api_scales_on_cpu_and_requests_and_hides_metrics(
    templates: dict[str, dict[str, Any]],
) -> None:
    app = templates["app"]
    policies = _resources_of_type(app, "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    kinds = {
        p["Properties"]["TargetTrackingScalingPolicyConfiguration"][
            "PredefinedMetricSpecification"
        ]["PredefinedMetricType"]
        for p in policies
    }
    assert kinds == {"ECSServiceAverageCPUUtilization", "ALBRequestCountPerTarget"}
    (rule,) = _resources_of_type(app, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    paths = rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"]
    assert "/metrics" in paths
    assert rule["Properties"]["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "403"
    (task,) = _resources_of_type(app, "AWS::ECS::TaskDefinition").values()
    env = {
        e["Name"]: e["Value"]
        for e in task["Properties"]["ContainerDefinitions"][0]["Environment"]
        if "Name" in e
    }
    assert env["LOG_FORMAT"] == "json"


def test_worker_is_its_own_service_scaling_on_the_queue_depth(
    templates: dict[str, dict[str, Any]],
) -> None:
    worker = templates["worker"]
    (service,) = _resources_of_type(worker, "AWS::ECS::Service").values()
    assert "LoadBalancers" not in service["Properties"]
    (task,) = _resources_of_type(worker, "AWS::ECS::TaskDefinition").values()
    container = task["Properties"]["ContainerDefinitions"][0]
    assert container["Command"] == ["cryptofirm", "worker"]
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    (metric_filter,) = _resources_of_type(worker, "AWS::Logs::MetricFilter").values()
    assert '$.event = "queue depth"' in metric_filter["Properties"]["FilterPattern"]
    alarms = _resources_of_type(worker, "AWS::CloudWatch::Alarm").values()
    actions = {a["Properties"]["AlarmActions"][0]["Ref"] for a in alarms}
    assert actions == {"ScaleOutPolicy", "ScaleInPolicy"}
    assert {a["Properties"]["MetricName"] for a in alarms} == {"QueueDepth"}


def test_alarms_match_the_log_lines_the_code_writes(templates: dict[str, dict[str, Any]]) -> None:
    # The metric filters match JSON log lines by their `event`: the code must write them.
    code = (REPO_ROOT / "core" / "metrics.py").read_text() + (
        REPO_ROOT / "api" / "metrics.py"
    ).read_text()
    for template in (templates["worker"], templates["monitoring"]):
        for metric_filter in _resources_of_type(template, "AWS::Logs::MetricFilter").values():
            pattern = metric_filter["Properties"]["FilterPattern"]
            event = re.search(r'\$\.event = "([^"]+)"', pattern)
            assert event and f'"{event.group(1)}"' in code, pattern
    monitoring = templates["monitoring"]
    alarmed = {
        a["Properties"]["MetricName"]
        for a in _resources_of_type(monitoring, "AWS::CloudWatch::Alarm").values()
    }
    assert {"FailedRuns", "BudgetStops", "HTTPCode_Target_5XX_Count", "QueueDepth"} <= alarmed
