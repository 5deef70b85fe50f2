using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CrewPlatform.Gateway.Auth;
using CrewPlatform.Gateway.RateLimiting;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Gateway.Dashboard;

/// <summary>
/// <c>GET /api/gateway/queues</c>: each queue of the platform's virtual host with its messages and consumers, read by
/// the gateway from the RabbitMQ management API with its own configured credentials (never sent to the browser). A
/// queue ending in <c>_error</c> holds parked messages. Not configured: <c>configured: false</c> and no queues.
/// </summary>
public static class QueueDepths
{
    public const string Path = "/api/gateway/queues";
    private const string ClientName = "rabbitmq-management";

    public sealed record QueueDepth(string Name, long Messages, long Ready, long Unacknowledged, long Consumers, bool Parked);

    public sealed record QueuesAnswer(bool Configured, IReadOnlyList<QueueDepth> Queues);

    public static IServiceCollection AddQueueDepths(this IServiceCollection services)
    {
        services.AddHttpClient(ClientName, client => client.Timeout = TimeSpan.FromSeconds(5));
        return services;
    }

    public static IEndpointRouteBuilder MapQueueDepths(this IEndpointRouteBuilder app)
    {
        app.MapGet(Path, GetAsync)
            .RequireAuthorization(ApiAccess.PolicyName)
            .RequireRateLimiting(ClientRateLimiting.PolicyName);
        return app;
    }

    private static async Task<IResult> GetAsync(IHttpClientFactory clients, IOptions<GatewayOptions> options, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (settings.RabbitMqManagementUrl is not { Length: > 0 } url)
        {
            return ApiResults.Ok(new QueuesAnswer(false, []));
        }

        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"{url.TrimEnd('/')}/api/queues/{Uri.EscapeDataString(settings.RabbitMqVirtualHost)}?columns=name,messages,messages_ready,messages_unacknowledged,consumers");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(
            Encoding.UTF8.GetBytes($"{settings.RabbitMqManagementUser}:{settings.RabbitMqManagementPassword}")));
        try
        {
            using var response = await clients.CreateClient(ClientName).SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return ApiResults.Error(StatusCodes.Status502BadGateway, $"The RabbitMQ management API answered {(int)response.StatusCode}");
            }

            using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
            var queues = body.RootElement.EnumerateArray().Select(q =>
            {
                var name = q.GetProperty("name").GetString() ?? "";
                return new QueueDepth(name, Number(q, "messages"), Number(q, "messages_ready"), Number(q, "messages_unacknowledged"),
                    Number(q, "consumers"), name.EndsWith("_error", StringComparison.Ordinal));
            }).OrderBy(q => q.Name, StringComparer.Ordinal).ToList();
            return ApiResults.Ok(new QueuesAnswer(true, queues));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
        {
            return ApiResults.Error(StatusCodes.Status502BadGateway, "The RabbitMQ management API did not answer");
        }
    }

    private static long Number(JsonElement queue, string property) =>
        queue.TryGetProperty(property, out var value) && value.TryGetInt64(out var number) ? number : 0;
}
