using System.Net;
using System.Text;
using CrewPlatform.CrewCaller.CrewApi;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;

namespace CrewPlatform.CrewCaller.Tests.Harness;

/// <summary>The Refit client as registered: where it sends, what it sends, and that no HttpClient timeout cuts a long call.</summary>
public sealed class CrewApiClientTests
{
    [Theory]
    [InlineData("http://crew.test:8000/run-crew")]
    [InlineData("https://crew.test/api/v2/run-crew")]
    public async Task The_request_is_posted_to_CREW_API_URL_as_given_with_explicit_nulls_and_the_idempotency_key(string url)
    {
        var recorder = new RecordingHandler();
        await using var provider = Provider(url, recorder);

        using var response = await provider.GetRequiredService<CrewEndpoints>().For(null).Api.RunCrewAsync(new CrewRequest("A bakery", null), "run-1:user-1", CancellationToken.None);

        Assert.Equal(HttpMethod.Post, recorder.Method);
        Assert.Equal(new Uri(url), recorder.Uri);
        Assert.Equal("""{"customer_business_background_latest":"A bakery","customer_goal_latest":null}""", recorder.Body);
        Assert.Equal("application/json", recorder.MediaType);
        Assert.Equal("run-1:user-1", recorder.IdempotencyKey);
    }

    [Fact]
    public async Task The_http_client_has_no_timeout_of_its_own()
    {
        await using var provider = Provider("http://crew.test/run-crew", new RecordingHandler());
        var api = provider.GetRequiredService<CrewEndpoints>().For(null).Api;

        // The generated implementation exposes its HttpClient; the attempt timeout is CrewApiInvoker's job.
        var client = Assert.IsType<HttpClient>(api.GetType().GetProperty("Client")?.GetValue(api));

        Assert.Equal(Timeout.InfiniteTimeSpan, client.Timeout);
    }

    private static ServiceProvider Provider(string url, RecordingHandler recorder)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["CREW_API_URL"] = url }).Build();
        var services = new ServiceCollection().AddCrewCaller(configuration);
        services.ConfigureAll<HttpClientFactoryOptions>(options => options.HttpMessageHandlerBuilderActions.Add(builder => builder.PrimaryHandler = recorder));
        return services.BuildServiceProvider();
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public HttpMethod? Method { get; private set; }

        public Uri? Uri { get; private set; }

        public string? Body { get; private set; }

        public string? MediaType { get; private set; }

        public string? IdempotencyKey { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Method = request.Method;
            Uri = request.RequestUri;
            Body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
            MediaType = request.Content?.Headers.ContentType?.MediaType;
            IdempotencyKey = request.Headers.TryGetValues("Idempotency-Key", out var keys) ? string.Join(",", keys) : null;
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        }
    }
}
