using System.Diagnostics;
using System.Text.Json;
using CrewPlatform.Testing;

namespace CrewPlatform.Monitoring;

/// <summary>
/// Debian's <c>prometheus</c> binary (package <c>prometheus</c>; scripts/test.sh installs it) in a temporary directory
/// of its own, on a free port, scraping the given targets every second with the repository's alert rules. Killed on dispose.
/// </summary>
public sealed class PrometheusServer : IDisposable
{
    private readonly Process process;
    private readonly string directory;

    private PrometheusServer(Process process, string directory, Uri url)
    {
        this.process = process;
        this.directory = directory;
        Url = url;
        Client = new HttpClient { BaseAddress = url };
    }

    public Uri Url { get; }

    public HttpClient Client { get; }

    /// <param name="targets">Job name and <c>host:port</c> of each scrape target; each is scraped at <c>/metrics</c>.</param>
    public static PrometheusServer Start(IReadOnlyDictionary<string, string> targets)
    {
        var directory = Directory.CreateTempSubdirectory("crew-prometheus-").FullName;
        File.Copy(RealInfrastructure.RepositoryFile("deploy/prometheus/alerts.yml"), Path.Combine(directory, "alerts.yml"));
        var jobs = targets.Select(t => $"""
              - job_name: {t.Key}
                static_configs:
                  - targets: ["{t.Value}"]
            """);
        File.WriteAllText(Path.Combine(directory, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - alerts.yml
            scrape_configs:
            {string.Join('\n', jobs)}
            """);

        var port = LoopbackPort.Free();
        var start = new ProcessStartInfo("prometheus",
        [
            $"--config.file={Path.Combine(directory, "prometheus.yml")}",
            $"--storage.tsdb.path={Path.Combine(directory, "data")}",
            $"--web.listen-address=127.0.0.1:{port}",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("prometheus did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("No prometheus binary: install Debian's prometheus package (scripts/test.sh does)", ex);
        }

        // Drained so a chatty server never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new PrometheusServer(process, directory, new Uri($"http://127.0.0.1:{port}"));
    }

    /// <summary>Every target's last scrape health (<c>up</c>, <c>down</c>, <c>unknown</c>) by job; empty until the server answers.</summary>
    public async Task<IReadOnlyDictionary<string, string>> TargetHealthAsync()
    {
        try
        {
            using var json = JsonDocument.Parse(await Client.GetStringAsync("/api/v1/targets"));
            return json.RootElement.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
                .ToDictionary(t => t.GetProperty("labels").GetProperty("job").GetString()!, t => t.GetProperty("health").GetString()!);
        }
        catch (HttpRequestException)
        {
            return new Dictionary<string, string>();
        }
    }

    /// <summary>An instant query's value when it yields exactly one series, otherwise null.</summary>
    public async Task<double?> QueryAsync(string promql)
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync($"/api/v1/query?query={Uri.EscapeDataString(promql)}"));
        var result = json.RootElement.GetProperty("data").GetProperty("result");
        return result.GetArrayLength() == 1
            ? double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            : null;
    }

    /// <summary>The alerting rules loaded, by name, with their evaluation health (<c>ok</c> once evaluated without error).</summary>
    public async Task<IReadOnlyDictionary<string, string>> AlertRulesAsync()
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync("/api/v1/rules?type=alert"));
        return json.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("health").GetString()!);
    }

    public void Dispose()
    {
        Client.Dispose();
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(10));
        }

        process.Dispose();
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open; the temporary directory is cleaned up by the system.
        }
    }
}
