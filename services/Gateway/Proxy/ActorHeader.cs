using CrewPlatform.Gateway.Auth;
using CrewPlatform.ServiceDefaults;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace CrewPlatform.Gateway.Proxy;

/// <summary>
/// Every proxied request tells the backend who acted in <see cref="CrewActor.Header"/>: the credential's client name
/// (the API key's name, <c>jwt:&lt;sub&gt;</c>, the dashboard session's key name), encoded by <see cref="CrewActor.Encode"/>.
/// and the client's address in <see cref="CrewActor.ClientAddressHeader"/>. Any copy of either the client sent is removed first, on every route (the unauthenticated OpenAPI ones too), so a backend
/// never sees an identity the gateway did not establish.
/// </summary>
public static class ActorHeader
{
    public static void Add(TransformBuilderContext context) => context.AddRequestTransform(transform =>
    {
        transform.ProxyRequest.Headers.Remove(CrewActor.Header);
        transform.ProxyRequest.Headers.Remove(CrewActor.ClientAddressHeader);
        if (transform.HttpContext.Connection.RemoteIpAddress is { } address)
        {
            transform.ProxyRequest.Headers.TryAddWithoutValidation(CrewActor.ClientAddressHeader, address.ToString());
        }

        if (transform.HttpContext.User is { Identity.IsAuthenticated: true } user && user.ClientName() is { } client)
        {
            transform.ProxyRequest.Headers.TryAddWithoutValidation(CrewActor.Header, CrewActor.Encode(client));
        }

        return ValueTask.CompletedTask;
    });
}
