<?cs include:"header.cs" ?><?cs include:"chart.cs" ?>
<h1><?cs var:Tenant.Name ?> <small class="muted"><?cs var:Tenant.Slug ?></small> <span class="badge <?cs var:Tenant.Status ?>"><?cs var:Tenant.Status ?></span></h1>
<section class="card">
  <dl class="facts">
    <dt>Plan</dt><dd><?cs var:Tenant.Plan ?></dd>
    <dt>Status</dt><dd><?cs var:Tenant.Status ?></dd>
    <?cs if:Tenant.Status == "suspended" ?><dt>Suspended because</dt><dd><?cs var:Tenant.SuspendedReason ?></dd><?cs /if ?>
    <dt>Isolation</dt><dd><?cs var:Tenant.Isolation ?><?cs if:Tenant.DataDb ?> (database <code><?cs var:Tenant.DataDb ?></code>)<?cs /if ?><?cs if:Tenant.Migrating ?> <span class="badge suspended">moving</span><?cs /if ?></dd>
    <dt>Created</dt><dd><?cs var:Tenant.Created ?></dd>
    <dt>Content logging</dt><dd id="log-content"><?cs if:Tenant.LogContent ?>on: prompts and answers of chat completions are stored with each execution<?cs else ?>off: chat completions store figures only, no prompt or answer<?cs /if ?></dd>
    <dt>Id</dt><dd><?cs var:Tenant.Id ?></dd>
  </dl>
  <p class="tenant-links">
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys">API keys</a> ·
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/provider-keys">Provider keys</a> ·
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/routes">Routes</a> ·
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/budgets">Budgets and limits</a> ·
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/access">Dashboard access</a> ·
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/webhooks">Webhooks</a> ·
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/guardrails">Guardrails</a> ·
    <a href="<?cs var:Prefix ?>/admin/usage?tenant_id=<?cs var:Tenant.Id ?>">Usage</a> ·
    <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/invoice">Invoice</a> ·
    <a href="<?cs var:Prefix ?>/admin/executions?tenant_id=<?cs var:Tenant.Id ?>">Executions</a> ·
    <a href="<?cs var:Prefix ?>/admin/audit?tenant_id=<?cs var:Tenant.Id ?>">Audit log</a>
  </p>
</section>
<section class="card charts"><?cs call:chart(Charts.Spend) ?><?cs call:chart(Charts.Calls) ?><?cs call:chart(Charts.Latency) ?></section>
<?cs if:User.Role != "support" ?>
<section class="card">
  <h2>Content logging</h2>
  <p>When on, the messages of each chat completion and its answer are stored with the execution (each cut to the server's <code>log_content_max_bytes</code>) and shown on the execution's page to operators and this tenant's admins. They are this tenant's data: exported, purged and isolated with it. Agent runs always store their input and output.</p>
  <form class="inline" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/content">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <?cs if:Tenant.LogContent ?><input type="hidden" name="log_content" value="off"><button type="submit">Turn content logging off</button>
    <?cs else ?><input type="hidden" name="log_content" value="on"><button type="submit" class="primary">Turn content logging on</button><?cs /if ?>
  </form>
</section>
<?cs /if ?>
<?cs if:User.Role == "operator" ?>
<section class="card">
  <h2>Edit</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Name <input name="name" required maxlength="200" value="<?cs var:Form.Name ?>"></label>
    <label>Plan <select name="plan"><?cs each:p = Plans ?><option value="<?cs var:p ?>"<?cs if:p == Form.Plan ?> selected<?cs /if ?>><?cs var:p ?></option><?cs /each ?></select></label>
    <button type="submit" class="primary">Save</button>
  </form>
</section>
<section class="card">
  <?cs if:Tenant.Status == "suspended" ?>
  <h2>Resume</h2>
  <p>The tenant's API calls are refused with 403 tenant_suspended until it is resumed.</p>
  <form method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/resume">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <button type="submit" class="primary">Resume tenant</button>
  </form>
  <?cs else ?>
  <h2>Suspend</h2>
  <p>Every API call of this tenant is then refused with 403 tenant_suspended.</p>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/suspend" data-confirm="Suspend this tenant? Its API calls will be refused.">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Reason (required) <input name="reason" required maxlength="255"></label>
    <button type="submit" class="danger">Suspend tenant</button>
  </form>
  <?cs /if ?>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
