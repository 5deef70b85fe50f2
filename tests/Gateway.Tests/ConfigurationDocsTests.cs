using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.Configuration;

namespace CrewPlatform.Gateway.Tests;

/// <summary>
/// The README's "Configuration" table is the one place that documents settings: these tests keep it in step with the
/// options classes (read by reflection from every service's build output) and with <c>deploy/env/*.env</c>.
/// </summary>
public sealed partial class ConfigurationDocsTests
{
    private static readonly string RepoRoot = FindRepoRoot();

    /// <summary>The services whose options classes are checked; each is built by the solution build.</summary>
    private static readonly string[] Services = ["Gateway", "Scheduler", "CrewCaller", "Webhooks", "ResponseStore"];

    [Fact]
    public void Every_setting_of_every_options_class_has_a_README_row_with_its_default()
    {
        var documented = ReadmeRows();
        var settings = OptionsSettings().ToList();
        Assert.NotEmpty(settings);

        var problems = new List<string>();
        foreach (var (key, type, defaultValue) in settings)
        {
            if (!documented.TryGetValue(key, out var defaultCell))
            {
                problems.Add($"{key} ({type.Name}) has no row in README.md's Configuration table");
            }
            else if (!DefaultMatches(defaultCell, defaultValue))
            {
                problems.Add($"{key} ({type.Name}): README default '{defaultCell}' does not match the code's '{Format(defaultValue) ?? "none"}'");
            }
        }

        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [Fact]
    public void Every_key_in_deploy_env_files_is_documented_in_the_README()
    {
        var documented = ReadmeRows();
        var envFiles = Directory.GetFiles(Path.Combine(RepoRoot, "deploy", "env"), "*.env");
        Assert.NotEmpty(envFiles);

        var undocumented = envFiles
            .SelectMany(file => File.ReadLines(file)
                .Where(line => line.Length > 0 && !line.StartsWith('#') && line.Contains('=', StringComparison.Ordinal))
                .Select(line => (File: Path.GetFileName(file), Key: line[..line.IndexOf('=', StringComparison.Ordinal)].Trim())))
            .Where(entry => !documented.ContainsKey(entry.Key))
            .Select(entry => $"{entry.Key} (deploy/env/{entry.File})")
            .ToList();

        Assert.True(undocumented.Count == 0, "not in README.md's Configuration table: " + string.Join(", ", undocumented));
    }

    /// <summary>(key, class, default) of every <c>[ConfigurationKeyName]</c> property, and the <c>RabbitMq__*</c> section.</summary>
    private static IEnumerable<(string Key, Type Type, object? Default)> OptionsSettings()
    {
        var assemblies = Services.Select(LoadService).Append(typeof(RabbitMqSettings).Assembly);
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()).Where(t => t is { IsClass: true, IsAbstract: false }))
        {
            var keyed = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
                .Select(p => (Property: p, Key: p.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name))
                .Where(p => p.Key is not null)
                .ToList();
            if (keyed.Count == 0)
            {
                continue;
            }

            var defaults = Activator.CreateInstance(type);
            foreach (var (property, key) in keyed)
            {
                yield return (key!, type, property.GetValue(defaults));
            }
        }

        var rabbit = new RabbitMqSettings();
        foreach (var property in typeof(RabbitMqSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            yield return ($"{RabbitMqSettings.SectionName}__{property.Name}", typeof(RabbitMqSettings), property.GetValue(rabbit));
        }
    }

    /// <summary>Each row's setting names (a row may list several) and its default column.</summary>
    private static Dictionary<string, string> ReadmeRows()
    {
        var readme = File.ReadAllText(Path.Combine(RepoRoot, "README.md"));
        var start = readme.IndexOf("\n## Configuration", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Configuration' section");
        var next = readme.IndexOf("\n## ", start + 1, StringComparison.Ordinal);
        var section = next < 0 ? readme[start..] : readme[start..next];

        var rows = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in section.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)))
        {
            var cells = line.Split('|');
            if (cells.Length < 4)
            {
                continue;
            }

            foreach (Match key in Quoted().Matches(cells[1]))
            {
                rows[key.Groups[1].Value] = cells[2].Trim();
            }
        }

        Assert.NotEmpty(rows);
        return rows;
    }

    // The default column starts with the value in backticks, or with "none" when there is no default.
    private static bool DefaultMatches(string cell, object? value) => Format(value) is { } expected
        ? Quoted().Match(cell) is { Success: true } first && first.Groups[1].Value == expected
        : cell.StartsWith("none", StringComparison.Ordinal);

    private static string? Format(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        Enum e => e.ToString().ToLowerInvariant(),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };

    /// <summary>A service's assembly from its own build output (same configuration and framework as this test's).</summary>
    private static Assembly LoadService(string service)
    {
        var project = $"CrewPlatform.{service}";
        var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == project);
        if (loaded is not null)
        {
            return loaded;
        }

        // This test runs from tests/Gateway.Tests/bin/<configuration>/<framework>/; the service is built to the same place under services/.
        var testProject = Path.Combine(RepoRoot, "tests", "Gateway.Tests");
        var output = Path.GetRelativePath(testProject, AppContext.BaseDirectory);
        var path = Path.Combine(RepoRoot, "services", service, output, project + ".dll");
        Assert.True(File.Exists(path), $"{path} not found: build the solution first");
        return Assembly.LoadFrom(path);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CrewPlatform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("CrewPlatform.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Quoted();
}
