using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StandardWebhooks;

namespace CrewPlatform.Webhooks.Tests;

/// <summary>One request as the receiver saw it.</summary>
public sealed record ReceivedWebhook(string WebhookId, string Body, bool SignatureValid, DateTimeOffset At, int AnsweredWith);

/// <summary>
/// A real HTTP receiver on 127.0.0.1 (Kestrel, a random port), as a subscriber would write one: it verifies every
/// signature with the StandardWebhooks library and counts each webhook-id once. What it answers is up to the test.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly ConcurrentQueue<ReceivedWebhook> received = new();
    private readonly ConcurrentDictionary<string, byte> processed = new(StringComparer.Ordinal);

    private WebhookReceiver(WebApplication app) => this.app = app;

    /// <summary>The subscription's secret, to verify signatures with.</summary>
    public string Secret { get; set; } = "";

    /// <summary>What to answer the n-th request (1-based); 200 by default.</summary>
    public Func<int, int> Answer { get; set; } = _ => StatusCodes.Status200OK;

    private int holdNext;

    /// <summary>The next request is held: never answered, until the sender gives up on it.</summary>
    public void HoldNextRequest() => Interlocked.Exchange(ref holdNext, 1);

    /// <summary>Completed when a held request has arrived.</summary>
    public TaskCompletionSource HeldRequestArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public string Url { get; private set; } = "";

    public IReadOnlyList<ReceivedWebhook> Received => received.ToList();

    /// <summary>Webhooks acted on: each webhook-id once, however often it was sent, as a receiver should dedupe.</summary>
    public IReadOnlyCollection<string> Processed => processed.Keys.ToList();

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", (Func<HttpContext, Task<IResult>>)receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Url = $"{address}/hook";
        return receiver;
    }

    private async Task<IResult> HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var id = context.Request.Headers["webhook-id"].ToString();
        bool valid;
        try
        {
            new StandardWebhook(Secret).Verify(body, context.Request.Headers);
            valid = true;
        }
        catch (Exception ex) when (ex is StandardWebhooks.Diagnostics.WebhookVerificationException or FormatException)
        {
            valid = false;
        }

        if (Interlocked.Exchange(ref holdNext, 0) == 1)
        {
            received.Enqueue(new ReceivedWebhook(id, body, valid, DateTimeOffset.UtcNow, AnsweredWith: 0));
            HeldRequestArrived.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }

        var status = Answer(received.Count + 1);
        received.Enqueue(new ReceivedWebhook(id, body, valid, DateTimeOffset.UtcNow, status));
        if (valid && status is >= 200 and < 300)
        {
            processed.TryAdd(id, 0);
        }

        return Results.StatusCode(status);
    }

    public async ValueTask DisposeAsync() => await app.DisposeAsync();
}
