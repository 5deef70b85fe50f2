using System.Diagnostics;
using CrewPlatform.Contracts;
using CrewPlatform.Testing;

namespace CrewPlatform.Webhooks.Tests;

/// <summary>The stronger restart: the service's own build as a separate process, killed with SIGKILL mid-delivery.</summary>
public sealed class KilledProcessTests : IAsyncLifetime
{
    private readonly WebhooksService service = new();
    private WebhookReceiver receiver = null!;

    public async Task InitializeAsync()
    {
        await service.InitializeAsync();
        receiver = await WebhookReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await receiver.DisposeAsync();
        await service.DisposeAsync();
    }

    [Fact]
    public async Task A_delivery_whose_sender_was_killed_is_sent_again_under_the_same_webhook_id_once_its_lease_ends()
    {
        await service.SubscribeAsync(receiver, "run.completed");
        await service.StopAsync();
        receiver.HoldNextRequest();

        using (var process = StartServiceProcess())
        {
            try
            {
                // The process's consumer queues exist already (the in-process service declared them), so the event waits for it.
                await service.Bus.Publish(new CrewRunCompleted
                {
                    RunId = Guid.NewGuid(), Dispatched = 1, Succeeded = 1, Failed = 0, Skipped = 0, CompletedAt = DateTimeOffset.UtcNow,
                });
                await receiver.HeldRequestArrived.Task.WaitAsync(TimeSpan.FromSeconds(90));
            }
            finally
            {
                process.Kill(entireProcessTree: true); // SIGKILL: no shutdown, the claim stays leased
                await process.WaitForExitAsync();
            }
        }

        await service.StartAsync();
        await Eventually.HoldsAsync(() => receiver.Processed.Count == 1, "the delivery was sent again after the lease ran out", TimeSpan.FromSeconds(60));
        var requests = receiver.Received;
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].WebhookId, requests[1].WebhookId);
        Assert.All(requests, r => Assert.True(r.SignatureValid));
    }

    private Process StartServiceProcess()
    {
        // The service's own build next to this test's (services/Webhooks/bin/<configuration>/<framework>/).
        var relative = Path.GetRelativePath(RealInfrastructure.RepositoryFile("tests/Webhooks.Tests"), AppContext.BaseDirectory);
        var folder = RealInfrastructure.RepositoryFile(Path.Combine("services", "Webhooks", relative));
        var start = new ProcessStartInfo("dotnet", [Path.Combine(folder, "CrewPlatform.Webhooks.dll")])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in service.ServiceEnvironment.Concat(WebhooksService.TestSettings))
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the Webhooks service");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
