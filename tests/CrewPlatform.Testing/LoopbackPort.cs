using System.Net;
using System.Net.Sockets;

namespace CrewPlatform.Testing;

public static class LoopbackPort
{
    /// <summary>A port of 127.0.0.1 nobody listens on right now, for a server a test starts or a setting it gives.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
