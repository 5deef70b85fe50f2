using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace CrewPlatform.Testing;

/// <summary>
/// Runs <c>scripts/run-local.sh</c> exactly as a user would, with extra environment, and reads what it left behind
/// (process ids, logs). Shared by the end-to-end tests and the fault suite.
/// </summary>
public static class LocalStackScript
{
    public static readonly Uri GatewayUrl = new("http://127.0.0.1:8080");
    public static readonly Uri FakeCrewUrl = new("http://127.0.0.1:8090");

    /// <summary>Runs <c>scripts/run-local.sh &lt;command&gt;</c> and fails with its output (and the services' log tails) if it fails.</summary>
    public static async Task RunAsync(string command, IReadOnlyDictionary<string, string?> environment)
    {
        var (exitCode, output) = await RunProcessAsync("bash", [RealInfrastructure.RepositoryFile("scripts/run-local.sh"), command], environment);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"scripts/run-local.sh {command} exited {exitCode}\n{output}\n{ServiceLogTails()}");
        }
    }

    /// <summary>
    /// Runs a process from the repository's root to its end (at most six minutes): its exit code and its output. A
    /// variable given as null is removed from the environment the process inherits.
    /// </summary>
    public static async Task<(int ExitCode, string Output)> RunProcessAsync(
        string fileName, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = RealInfrastructure.RepositoryFile(""),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(6));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, $"{await stdout}\n{await stderr}");
    }

    /// <summary><c>POST /api/scheduler {"action":"run-now"}</c> through the gateway: the new run's id (fails unless 202).</summary>
    public static async Task<Guid> RunNowAsync(HttpClient gateway)
    {
        using var response = await gateway.PostAsJsonAsync("/api/scheduler", new { action = "run-now" });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Accepted, $"run-now answered {(int)response.StatusCode}: {body}");
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("data").GetProperty("runId").GetGuid();
    }

    /// <summary>
    /// The gateway's admin token that <c>run-local.sh up</c> generated on its first run: the one a stack started without
    /// <c>CREW_ADMIN_TOKEN</c> in its environment uses (give that variable as null to keep the test's own out).
    /// </summary>
    public static string AdminToken() => File.ReadAllText(RealInfrastructure.RepositoryFile(".run-local/admin-token")).Trim();

    /// <summary>The process id <c>run-local.sh up</c> recorded for a service (e.g. <c>crew-caller</c>).</summary>
    public static int ServicePid(string service) =>
        int.Parse(File.ReadAllText(RealInfrastructure.RepositoryFile($".run-local/pids/{service}.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The last lines of every service's log, to explain a failure.</summary>
    public static string ServiceLogTails(int lines = 15)
    {
        var logs = RealInfrastructure.RepositoryFile(".run-local/logs");
        if (!Directory.Exists(logs))
        {
            return "";
        }

        return string.Join('\n', Directory.GetFiles(logs, "*.log").Select(f =>
            $"--- {Path.GetFileName(f)}\n{string.Join('\n', File.ReadLines(f).TakeLast(lines))}"));
    }
}
