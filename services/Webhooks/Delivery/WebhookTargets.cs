using System.Net;
using System.Net.Sockets;
using CrewPlatform.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace CrewPlatform.Webhooks.Delivery;

/// <summary>
/// Which URLs a webhook may target. A subscription's URL comes from an API caller, so unless
/// <c>WEBHOOKS_ALLOW_PRIVATE_TARGETS</c> says otherwise, hosts that resolve to loopback, link-local (cloud metadata),
/// private or otherwise non-public addresses are refused: at create, and again on every connection, since a name can
/// resolve elsewhere by the time it is sent to (DNS rebinding).
/// </summary>
public sealed class WebhookTargets(IOptions<WebhooksOptions> options)
{
    public const int MaxUrlLength = 2048;

    private static readonly IPNetwork[] NonPublic =
    [
        IPNetwork.Parse("0.0.0.0/8"),
        IPNetwork.Parse("10.0.0.0/8"),
        IPNetwork.Parse("100.64.0.0/10"),
        IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"),
        IPNetwork.Parse("172.16.0.0/12"),
        IPNetwork.Parse("192.0.0.0/24"),
        IPNetwork.Parse("192.168.0.0/16"),
        IPNetwork.Parse("198.18.0.0/15"),
        IPNetwork.Parse("224.0.0.0/3"),
        IPNetwork.Parse("::/128"),
        IPNetwork.Parse("::1/128"),
        IPNetwork.Parse("64:ff9b::/96"),
        IPNetwork.Parse("fc00::/7"),
        IPNetwork.Parse("fe80::/10"),
        IPNetwork.Parse("ff00::/8"),
    ];

    public static bool IsNonPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return NonPublic.Any(network => network.Contains(address));
    }

    /// <summary>Why a subscription may not have this URL, or null when it may.</summary>
    public async Task<string?> RefusalAsync(string? url, CancellationToken cancellationToken)
    {
        if (url is null || url.Length > MaxUrlLength || !HttpUrl.IsAbsoluteHttp(url))
        {
            return $"url must be an absolute http:// or https:// URL of at most {MaxUrlLength} characters";
        }

        var uri = new Uri(url);
        if (uri.UserInfo.Length > 0)
        {
            return "url must not carry credentials";
        }

        // A name that does not resolve now is let through: it is checked again on every connection.
        var addresses = await ResolveAsync(uri.DnsSafeHost, cancellationToken);
        return addresses is not null && Refuses(addresses) ? PrivateRefusal(uri.DnsSafeHost) : null;
    }

    /// <summary>The host's addresses, or <see cref="RefusedTargetException"/> when it does not resolve or any of them is not public (unless allowed).</summary>
    public async Task<IPAddress[]> AllowedAddressesAsync(string host, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAsync(host, cancellationToken) ?? throw new RefusedTargetException($"url's host {host} does not resolve");
        return Refuses(addresses) ? throw new RefusedTargetException(PrivateRefusal(host)) : addresses;
    }

    // Any non-public address refuses the host: connecting would pick one of them, perhaps the private one.
    private bool Refuses(IPAddress[] addresses) => !options.Value.AllowPrivateTargets && addresses.Any(IsNonPublic);

    private static string PrivateRefusal(string host) => $"url's host {host} is a loopback, link-local or private address; refused";

    private static async Task<IPAddress[]?> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var literal))
        {
            return [literal];
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            return addresses.Length == 0 ? null : addresses;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    /// <summary>
    /// The webhook client's connections: to the addresses just checked, never to a name resolved again by someone
    /// else; no proxy, no redirects followed (a 3xx is an answer like any other, and a failed attempt).
    /// </summary>
    public SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        UseCookies = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var addresses = await AllowedAddressesAsync(context.DnsEndPoint.Host, cancellationToken);
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };
}

public sealed class RefusedTargetException(string message) : Exception(message);
