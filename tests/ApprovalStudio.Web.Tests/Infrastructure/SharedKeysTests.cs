using System.Net;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore;

namespace ApprovalStudio.Web.Tests.Infrastructure;

/// <summary>
/// Instances behind a load balancer share one database, and with it the data-protection keys: a sign-in cookie or an
/// antiforgery token made by one instance is accepted by another, even one installed elsewhere (by default the keys and
/// their application name came from each process's machine and install path, and a cookie made behind one was refused by
/// the next).
/// </summary>
public sealed class SharedKeysTests
{
    [Theory]
    [InlineData(Provider.Sqlite)]
    [InlineData(Provider.Postgres)]
    public async Task A_cookie_and_an_antiforgery_token_made_by_one_instance_are_accepted_by_another_on_the_same_database(Provider provider)
    {
        await using var database = TestDatabase.Create(provider);
        var signingKey = AppHost.NewSigningKey();
        await using var first = await AppHost.StartAsync(provider, database: database, signingKey: signingKey);
        var elsewhere = Directory.CreateTempSubdirectory("approval-studio-elsewhere-").FullName;
        await using var second = await AppHost.StartAsync(provider, new Dictionary<string, string?> { ["contentRoot"] = elsewhere }, database, signingKey);
        using (var person = await first.Admin().PutAsync("/api/users/bob", AppHost.Json("""{"name":"Bob","groups":["ops"],"password":"Correct-Horse-7"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, person.StatusCode);
        }

        // The sign-in form from the first instance, posted to the second.
        var cookies = new CookieContainer();
        using var toFirst = Client(first, cookies);
        using var toSecond = Client(second, cookies);
        var token = await SignInForm.TokenAsync(toFirst);
        using (var signIn = await toSecond.PostAsync("/account/signin", SignInForm.Fields("bob", "Correct-Horse-7", token)))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
            Assert.Equal("/", signIn.Headers.Location?.ToString());
        }

        // The cookie the second made, read by the first.
        using (var tasks = await toFirst.GetAsync("/api/tasks"))
        {
            Assert.Equal(HttpStatusCode.OK, tasks.StatusCode);
        }

        await using var db = database.OpenContext();
        var keys = await db.DataProtectionKeys.AsNoTracking().ToListAsync();
        Assert.NotEmpty(keys);
        Assert.All(keys, k => Assert.Contains("<key ", k.Xml, StringComparison.Ordinal));
        Directory.Delete(elsewhere, recursive: true);
    }

    private static HttpClient Client(AppHost host, CookieContainer cookies) =>
        new(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = host.Address };
}
