<?cs include:"header.cs" ?><?cs include:"chart.cs" ?>
<h1>Health</h1>
<p class="sub">From the last 15 minutes and 24 hours of calls, open breakers and budget use. Most failing tenants first.</p>
<?cs if:Charts.Calls.Title ?><section class="card charts"><?cs call:chart(Charts.Calls) ?><?cs call:chart(Charts.Latency) ?></section><?cs /if ?>
<?cs if:subcount(Tenants) == 0 ?>
<p class="empty">No tenants yet<?cs if:User.Role == "operator" ?>: <a href="<?cs var:Prefix ?>/admin/tenants">create one</a><?cs /if ?>.</p>
<?cs else ?>
<section class="card">
<div class="table-wrap"><table class="grid health">
  <thead><tr><th>Tenant</th><th>State</th><th class="r">Last 15 min</th><th class="r">Last 24 h</th><th class="r">Budget used</th></tr></thead>
  <tbody><?cs each:t = Tenants ?><tr><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:t.Id ?>"><?cs var:t.Name ?></a> <small class="muted">#<?cs var:t.Id ?></small></td>
    <td><span class="badge <?cs var:t.Badge ?>"><?cs var:t.Level ?></span><br><small><?cs var:t.Why ?></small></td>
    <td class="r"><?cs var:t.Req15 ?> calls<br><small><?cs var:t.FailRate15 ?> failed · <?cs var:t.RefusedRate15 ?> refused</small></td>
    <td class="r"><?cs var:t.Req24 ?> calls<br><small><?cs var:t.FailRate24 ?> failed · p99 <?cs var:t.P99 ?></small></td>
    <td class="r"><small>day</small> <?cs var:t.DayBudget ?><br><small>month</small> <?cs var:t.MonthBudget ?></td></tr><?cs /each ?></tbody>
</table></div>
<nav class="pager"><?cs if:Pager.Prev ?><a href="<?cs var:Prefix ?>/admin/health?page=<?cs var:Pager.Prev ?>">Previous</a><?cs /if ?> <?cs if:Pager.Next ?><a href="<?cs var:Prefix ?>/admin/health?page=<?cs var:Pager.Next ?>">Next</a><?cs /if ?></nav>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
