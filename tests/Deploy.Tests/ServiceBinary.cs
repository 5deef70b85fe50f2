using CrewPlatform.Testing;

namespace CrewPlatform.Deploy.Tests;

/// <summary>A service's own build output, started as a process the way deploy/Dockerfile and run-local.sh start it.</summary>
public static class ServiceBinary
{
    /// <summary>Runs <c>CrewPlatform.&lt;service&gt;.dll</c> with only the given settings from the test's environment changed.</summary>
    public static Task<(int ExitCode, string Output)> RunAsync(
        string service, IReadOnlyDictionary<string, string?> environment, params string[] arguments) =>
        LocalStackScript.RunProcessAsync("dotnet", [Path.Combine(OutputFolder(service), $"CrewPlatform.{service}.dll"), .. arguments], environment);

    // This test runs from tests/Deploy.Tests/bin/<configuration>/<framework>/; a service is built to the same place under services/.
    private static string OutputFolder(string service)
    {
        var relative = Path.GetRelativePath(RealInfrastructure.RepositoryFile("tests/Deploy.Tests"), AppContext.BaseDirectory);
        var folder = RealInfrastructure.RepositoryFile(Path.Combine("services", service, relative));
        Assert.True(Directory.Exists(folder), $"{folder} not found: build the solution first");
        return folder;
    }
}
