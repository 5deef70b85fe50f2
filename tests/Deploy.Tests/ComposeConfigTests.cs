using System.Text.RegularExpressions;
using CrewPlatform.Testing;

namespace CrewPlatform.Deploy.Tests;

/// <summary>
/// docker-compose.yml as Debian's docker-compose 1.29 (the one scripts/test.sh uses) reads it, without an engine:
/// it has no default secret, and what it publishes listens on 127.0.0.1 unless the operator says otherwise.
/// </summary>
public sealed partial class ComposeConfigTests : IDisposable
{
    // Any .env of the developer's is left out: each test gives the file exactly the variables it means to.
    private readonly string emptyEnvFile = Path.GetTempFileName();

    /// <summary>The secrets .env.example lists as lines <c>NAME=</c> with no value.</summary>
    private static readonly string[] Secrets = File.ReadLines(RealInfrastructure.RepositoryFile(".env.example"))
        .Select(line => SecretLine().Match(line))
        .Where(match => match.Success)
        .Select(match => match.Groups[1].Value)
        .ToArray();

    public void Dispose() => File.Delete(emptyEnvFile);

    [Fact]
    public void The_example_env_file_lists_the_token_and_every_password()
    {
        Assert.Contains("CREW_ADMIN_TOKEN", Secrets);
        Assert.Contains("POSTGRES_PASSWORD", Secrets);
        Assert.Contains("RABBITMQ_ADMIN_PASSWORD", Secrets);
        foreach (var service in new[] { "SCHEDULER", "CREW_CALLER", "RESPONSE_STORE", "WEBHOOKS" })
        {
            Assert.Contains($"{service}_DB_PASSWORD", Secrets);
            Assert.Contains($"{service}_RABBITMQ_PASSWORD", Secrets);
        }
    }

    [Fact]
    public async Task Without_any_one_of_its_secrets_config_fails_naming_it()
    {
        foreach (var missing in Secrets)
        {
            var environment = WithSecrets();
            environment[missing] = null;

            var (exitCode, output) = await ConfigAsync(environment);

            Assert.True(exitCode != 0, $"config passed without {missing}");
            Assert.Contains($"set {missing}, like every secret in .env.example", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task With_its_secrets_config_passes_and_every_published_port_listens_on_127_0_0_1()
    {
        var (exitCode, output) = await ConfigAsync(WithSecrets());

        Assert.True(exitCode == 0, output);
        Assert.Equal(["127.0.0.1:15672:15672/tcp", "127.0.0.1:16686:16686/tcp", "127.0.0.1:3000:3000/tcp", "127.0.0.1:8080:8080/tcp", "127.0.0.1:9090:9090/tcp", "127.0.0.1:9093:9093/tcp"], PublishedPorts(output).Order());
    }

    [Fact]
    public async Task CREW_PUBLISH_ADDRESS_opens_the_published_ports_to_the_network_on_request()
    {
        var environment = WithSecrets();
        environment["CREW_PUBLISH_ADDRESS"] = "0.0.0.0";

        var (exitCode, output) = await ConfigAsync(environment);

        Assert.True(exitCode == 0, output);
        // Monitoring and the trace UI stay on this host: Prometheus, Alertmanager and Jaeger have no login.
        Assert.Equal(["0.0.0.0:15672:15672/tcp", "0.0.0.0:8080:8080/tcp", "127.0.0.1:16686:16686/tcp", "127.0.0.1:3000:3000/tcp", "127.0.0.1:9090:9090/tcp", "127.0.0.1:9093:9093/tcp"], PublishedPorts(output).Order());
    }

    [Fact]
    public async Task Prometheus_scrapes_the_gateway_on_its_management_port_which_is_not_published()
    {
        var (exitCode, output) = await ConfigAsync(WithSecrets());

        Assert.True(exitCode == 0, output);
        var management = ManagementUrls().Match(output);
        Assert.True(management.Success, "the gateway's GATEWAY_MANAGEMENT_URLS is not set in docker-compose.yml");
        var port = management.Groups[1].Value;
        Assert.Contains($"\"gateway:{port}\"", File.ReadAllText(RealInfrastructure.RepositoryFile("deploy/prometheus/prometheus.yml")), StringComparison.Ordinal);
        Assert.DoesNotContain(PublishedPorts(output), published => published.EndsWith($":{port}/tcp", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Each_service_logs_in_as_itself_with_its_own_passwords()
    {
        var (exitCode, output) = await ConfigAsync(WithSecrets());

        Assert.True(exitCode == 0, output);
        Assert.Contains("Username=scheduler;Password=placeholder-SCHEDULER_DB_PASSWORD", output, StringComparison.Ordinal);
        Assert.Contains("Username=crew_caller;Password=placeholder-CREW_CALLER_DB_PASSWORD", output, StringComparison.Ordinal);
        Assert.Contains("Username=response_store;Password=placeholder-RESPONSE_STORE_DB_PASSWORD", output, StringComparison.Ordinal);
        Assert.Contains("RabbitMq__Password: placeholder-CREW_CALLER_RABBITMQ_PASSWORD", output, StringComparison.Ordinal);
        Assert.DoesNotContain("guest", output, StringComparison.Ordinal);
        Assert.DoesNotContain("local-dev-token", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Guest_may_log_in_to_the_broker_from_the_broker_container_only()
    {
        var (exitCode, output) = await ConfigAsync(WithSecrets());

        // The official image's 10-defaults.conf sets loopback_users.guest = false; a later conf.d file wins.
        Assert.True(exitCode == 0, output);
        Assert.Matches(@"deploy/rabbitmq/crewplatform\.conf:/etc/rabbitmq/conf\.d/90-crewplatform\.conf:ro", output);
        Assert.Contains("loopback_users.guest = true", File.ReadLines(RealInfrastructure.RepositoryFile("deploy/rabbitmq/crewplatform.conf")));
    }

    /// <summary>Every secret set to a placeholder; every other variable compose reads left to its default.</summary>
    private static Dictionary<string, string?> WithSecrets()
    {
        var environment = Secrets.ToDictionary(name => name, name => (string?)$"placeholder-{name}");
        environment["CREW_PUBLISH_ADDRESS"] = null;
        environment["RABBITMQ_ADMIN_USER"] = null;
        environment["CREW_API_URL"] = null;
        return environment;
    }

    private async Task<(int ExitCode, string Output)> ConfigAsync(Dictionary<string, string?> environment)
    {
        try
        {
            return await LocalStackScript.RunProcessAsync(
                "docker-compose", ["--env-file", emptyEnvFile, "-f", "docker-compose.yml", "config"], environment);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("docker-compose is not installed (scripts/test.sh installs Debian's docker-compose)", ex);
        }
    }

    private static IEnumerable<string> PublishedPorts(string config) =>
        PortLine().Matches(config).Select(match => match.Groups[1].Value);

    [GeneratedRegex(@"GATEWAY_MANAGEMENT_URLS: http://0\.0\.0\.0:(\d+)")]
    private static partial Regex ManagementUrls();

    [GeneratedRegex(@"^([A-Z][A-Z0-9_]*)=$")]
    private static partial Regex SecretLine();

    // `config` writes each published port as `- <address>:<published>:<target>/<protocol>`.
    [GeneratedRegex(@"^\s*- ([0-9.]+:\d+:\d+/\w+)\s*$", RegexOptions.Multiline)]
    private static partial Regex PortLine();
}
