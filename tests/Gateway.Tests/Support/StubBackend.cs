using System.Net;
using System.Net.Sockets;
using CrewPlatform.ServiceDefaults;
using CrewPlatform.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace CrewPlatform.Gateway.Tests.Support;

/// <summary>
/// A real Kestrel server on a free loopback port standing in for a backend service: it echoes what it received,
/// answers its health probe as told, can be slow on demand and publishes an OpenAPI document the way every service does
/// (the platform's OpenAPI settings, with one <c>/api</c> operation). Its echo sends
/// weak framing and content-security headers, which the gateway must replace.
/// </summary>
public sealed class StubBackend : IAsyncDisposable
{
    public const string SlowPathSegment = "slow";

    private readonly WebApplication app;

    private StubBackend(WebApplication app, string name, string url)
    {
        this.app = app;
        Name = name;
        Url = url;
    }

    public string Name { get; }

    public string Url { get; }

    /// <summary>Every request the catch-all answered, in order: what the gateway sent of its own accord (the audit of a sign-in).</summary>
    public System.Collections.Concurrent.ConcurrentQueue<EchoedRequest> Received { get; } = new();

    /// <summary>What <c>/health/ready</c> answers; the gateway's active probe reads it.</summary>
    public volatile bool Healthy = true;

    public static async Task<StubBackend> StartAsync(string name)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var port = LoopbackPort.Free();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddPlatformOpenApi();
        builder.Services.DescribeOpenApi($"{name} document");
        var app = builder.Build();
        var stub = new StubBackend(app, name, $"http://127.0.0.1:{port}");

        app.MapGet("/health/live", () => Results.Ok());
        app.MapGet("/health/ready", () => stub.Healthy ? Results.Ok() : Results.StatusCode(StatusCodes.Status503ServiceUnavailable));
        app.MapOpenApi(PlatformOpenApi.DocumentPath);
        app.MapGet($"/api/{name}/described", () => ApiResults.Ok(name)).WithName("described").WithSummary("An operation to describe")
            .ProducesEnvelope<string>();
        app.Map("/{**path}", async (HttpContext context) =>
        {
            if (context.Request.Path.Value!.EndsWith("/" + SlowPathSegment, StringComparison.Ordinal))
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }

            // Weaker than the gateway's: its answer must not let them through.
            context.Response.Headers.XFrameOptions = "SAMEORIGIN";
            context.Response.Headers.ContentSecurityPolicy = "default-src *";

            using var reader = new StreamReader(context.Request.Body);
            var echoed = new EchoedRequest(
                name,
                context.Request.Method,
                context.Request.Path.Value!,
                context.Request.QueryString.Value ?? "",
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                await reader.ReadToEndAsync(context.RequestAborted));
            stub.Received.Enqueue(echoed);
            return Results.Json(echoed);
        });

        await app.StartAsync();
        return stub;
    }

    /// <summary>A loopback port nobody listens on (for "backend down").</summary>
    public static string UnusedUrl() => $"http://127.0.0.1:{LoopbackPort.Free()}";

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

public sealed record EchoedRequest(
    string Backend, string Method, string Path, string Query, Dictionary<string, string> Headers, string Body);
